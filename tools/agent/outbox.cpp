// The agent's undelivered data (see outbox.hpp).
#include "tools/agent/outbox.hpp"

#include <utility>

namespace metricsd::tools {

Outbox::Outbox(size_t capacity) : samples_(capacity), lines_(capacity, kMaxLineBytes) {}

void Outbox::add_collection(Collection c) {
  {
    std::lock_guard lock(mu_);
    if (heartbeat_) samples_.push(heartbeat_->all_samples_unlabelled());
    samples_.push(std::move(c.labelled));
    c.labelled.clear();
    for (auto& e : c.events)
      add_event_locked(std::move(e), false);
    c.events = nlohmann::json::array();
    heartbeat_ = std::move(c);
  }
  cv_.notify_all();
}

void Outbox::add_lines(std::vector<std::string> lines) {
  if (lines.empty()) return;
  {
    std::lock_guard lock(mu_);
    lines_.push(std::move(lines));
  }
  cv_.notify_all();
}

void Outbox::add_event_locked(nlohmann::json e, bool front) {
  if (events_.size() >= kMaxEvents) {
    if (front) return;  // the queue filled meanwhile with newer ones: this one is shed
    events_.pop_front();
    ++shed_events_;
  }
  if (front)
    events_.push_front(std::move(e));
  else
    events_.push_back(std::move(e));
}

std::optional<Collection> Outbox::take_heartbeat() {
  std::lock_guard lock(mu_);
  auto out = std::move(heartbeat_);
  heartbeat_.reset();
  if (out) {
    out->events = nlohmann::json::array();
    while (!events_.empty() && out->events.size() < kEventsPerHeartbeat) {
      out->events.push_back(std::move(events_.front()));
      events_.pop_front();
    }
  }
  return out;
}

void Outbox::heartbeat_failed(const Collection& c, bool drop_events) {
  std::lock_guard lock(mu_);
  samples_.push(c.all_samples_unlabelled());
  if (drop_events) return;
  for (auto it = c.events.rbegin(); it != c.events.rend(); ++it)
    add_event_locked(*it, true);
}

size_t Outbox::pending_events() const {
  std::lock_guard lock(mu_);
  return events_.size();
}

std::vector<Sample> Outbox::take_samples(size_t max) {
  std::lock_guard lock(mu_);
  return samples_.take(max);
}

void Outbox::restore_samples(std::vector<Sample> batch) {
  std::lock_guard lock(mu_);
  samples_.restore(std::move(batch));
}

std::vector<std::string> Outbox::take_lines(size_t max, size_t max_bytes) {
  std::lock_guard lock(mu_);
  return lines_.take(max, max_bytes);
}

void Outbox::restore_lines(std::vector<std::string> batch) {
  std::lock_guard lock(mu_);
  lines_.restore(std::move(batch));
}

bool Outbox::empty() const {
  std::lock_guard lock(mu_);
  return !has_work_locked();
}

size_t Outbox::pending_samples() const {
  std::lock_guard lock(mu_);
  return samples_.size() + (heartbeat_ ? heartbeat_->unlabelled.size() : 0);
}

size_t Outbox::pending_lines() const {
  std::lock_guard lock(mu_);
  return lines_.size();
}

std::pair<uint64_t, uint64_t> Outbox::take_shed_counts() {
  std::lock_guard lock(mu_);
  std::pair<uint64_t, uint64_t> out{samples_.shed_total() - reported_shed_samples_,
                                    lines_.shed_total() - reported_shed_lines_};
  reported_shed_samples_ = samples_.shed_total();
  reported_shed_lines_ = lines_.shed_total();
  return out;
}

uint64_t Outbox::take_shed_events() {
  std::lock_guard lock(mu_);
  return shed_events_ - std::exchange(reported_shed_events_, shed_events_);
}

bool Outbox::has_work_locked() const {
  return heartbeat_.has_value() || !samples_.empty() || !lines_.empty();
}

bool Outbox::wait_for_work(std::chrono::steady_clock::time_point not_before) {
  std::unique_lock lock(mu_);
  if (cv_.wait_until(lock, not_before, [&] { return stop_; })) return false;
  cv_.wait(lock, [&] { return stop_ || has_work_locked(); });
  return !stop_;
}

bool Outbox::sleep_until(std::chrono::steady_clock::time_point until) {
  std::unique_lock lock(mu_);
  return !cv_.wait_until(lock, until, [&] { return stop_; });
}

void Outbox::request_stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
}

bool Outbox::stopping() const {
  std::lock_guard lock(mu_);
  return stop_;
}

}  // namespace metricsd::tools
