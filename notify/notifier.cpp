// Notification delivery; see notifier.hpp.
#include "notify/notifier.hpp"

#include <spdlog/spdlog.h>

#include <charconv>
#include <chrono>
#include <random>

#include "core/thread_name.hpp"
#include "core/version.hpp"
#include "notify/http_post.hpp"

namespace metricsd::notify {

struct Notifier::Worker {
  AlertReceiver receiver;
  std::string definition;  // its JSON with secrets, to see whether set_receivers changed it
  std::mutex mu;           // guards queue, stopping
  std::condition_variable cv;
  std::deque<AlertNotification> queue;
  bool stopping = false;
  bool done = false;  // run() has returned: joining the thread will not block
  std::thread thread;
};

namespace {

using Clock = std::chrono::steady_clock;

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\r' || c == '\n') c = ' ';
  if (s.size() > 300) s.resize(300);
  return s;
}

// The delay before try `attempt` + 1 (attempt >= 1), with ±50 % jitter.
std::chrono::milliseconds backoff(int attempt, int64_t retry_after_ms) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  double base = std::min(60'000.0, 1000.0 * static_cast<double>(1LL << std::min(attempt - 1, 16)));
  double jittered = base * std::uniform_real_distribution<double>(0.5, 1.5)(rng);
  return std::chrono::milliseconds(
      std::max(static_cast<int64_t>(jittered), std::min<int64_t>(retry_after_ms, 300'000)));
}

int64_t retry_after_ms(const std::string& header) {
  int64_t s = 0;
  auto [p, ec] = std::from_chars(header.data(), header.data() + header.size(), s);
  return ec == std::errc() && s > 0 ? s * 1000 : 0;
}

}  // namespace

Notifier::Notifier(std::optional<EmailSettings> email,
                   std::function<void(NotifyOutcome)> on_outcome, prom::Registry& metrics,
                   size_t max_queue_per_receiver)
    : email_(std::move(email)),
      on_outcome_(std::move(on_outcome)),
      max_queue_(max_queue_per_receiver),
      outcomes_(metrics.counter("metricsd_alert_notifications_total",
                                "Alert notifications delivered (sent) or given up (failed), by "
                                "receiver kind",
                                {"kind", "outcome"})),
      retries_(metrics
                   .counter("metricsd_alert_notification_retries_total",
                            "Alert notification attempts that failed and were tried again")
                   .get()),
      latency_(metrics.histogram("metricsd_alert_notification_seconds",
                                 "Time of one delivery attempt, by receiver kind", {"kind"},
                                 prom::latency_bounds_seconds())) {
  metrics.gauge_fn("metricsd_alert_notifications_queued",
                   "Alert notifications waiting for their receiver",
                   [this] { return static_cast<double>(queued_.load()); });
}

Notifier::~Notifier() {
  stop();
}

void Notifier::set_receivers(std::vector<AlertReceiver> receivers) {
  std::map<int64_t, std::shared_ptr<Worker>> next;
  for (auto& r : receivers) {
    std::string definition = alert_receiver_json(r, true).dump();
    int64_t id = r.id;
    auto it = workers_.find(id);
    if (it != workers_.end() && it->second->definition == definition) {
      next[id] = it->second;
      workers_.erase(it);
      continue;
    }
    auto w = std::make_shared<Worker>();
    w->receiver = std::move(r);
    w->definition = std::move(definition);
    if (it != workers_.end()) {  // changed: the new definition takes over its queue
      std::lock_guard lock(it->second->mu);
      w->queue.swap(it->second->queue);
    }
    Worker* raw = w.get();
    w->thread = std::thread([this, raw] {
      name_this_thread("md-notify");
      run(*raw);
      std::lock_guard lock(raw->mu);
      raw->done = true;
    });
    next[id] = std::move(w);
  }
  for (auto& [id, w] : workers_) {  // removed or changed
    std::deque<AlertNotification> orphans;
    {
      std::lock_guard lock(w->mu);
      w->stopping = true;
      orphans.swap(w->queue);
    }
    w->cv.notify_all();
    for (const auto& n : orphans) {
      queued_.fetch_sub(1);
      on_outcome_({n.id, "failed", 0, "receiver removed or disabled before delivery"});
    }
    retired_.push_back(std::move(w));
  }
  workers_ = std::move(next);
  // Join the retired ones that have finished; one still delivering (a hung receiver holds
  // it up to its timeout) is joined by a later call or by stop(), never waited for here.
  std::erase_if(retired_, [](std::shared_ptr<Worker>& w) {
    std::unique_lock lock(w->mu);
    if (!w->done) return false;
    lock.unlock();
    if (w->thread.joinable()) w->thread.join();
    return true;
  });
}

bool Notifier::enqueue(int64_t receiver_id, AlertNotification n) {
  auto it = workers_.find(receiver_id);
  if (it == workers_.end()) return false;
  Worker& w = *it->second;
  {
    std::lock_guard lock(w.mu);
    if (w.queue.size() >= max_queue_) return false;
    w.queue.push_back(std::move(n));
    queued_.fetch_add(1);  // before the worker can take it and subtract
  }
  w.cv.notify_one();
  return true;
}

void Notifier::stop() {
  for (auto& [id, w] : workers_)
    retired_.push_back(std::move(w));
  workers_.clear();
  for (auto& w : retired_) {
    {
      std::lock_guard lock(w->mu);
      w->stopping = true;
    }
    w->cv.notify_all();
  }
  for (auto& w : retired_)
    if (w->thread.joinable()) w->thread.join();
  retired_.clear();
}

void Notifier::run(Worker& w) {
  for (;;) {
    AlertNotification n;
    {
      std::unique_lock lock(w.mu);
      w.cv.wait(lock, [&] { return w.stopping || !w.queue.empty(); });
      if (w.stopping) return;  // what is queued stays queued in the database
      n = w.queue.front();
    }
    NotifyOutcome out = deliver(w, n);
    {
      std::lock_guard lock(w.mu);
      if (out.state.empty()) return;  // stopped while backing off: still queued
      // set_receivers() may have taken the queue meanwhile (the receiver changed or went):
      // then whoever holds the notification now reports it.
      if (w.queue.empty() || w.queue.front().id != n.id) continue;
      w.queue.pop_front();
    }
    queued_.fetch_sub(1);
    const char* kind = w.receiver.kind == AlertReceiver::Kind::kWebhook ? "webhook" : "email";
    outcomes_.with({kind, out.state}).inc();
    if (out.state == "failed")
      spdlog::warn("alert notification {} to receiver {} failed after {} attempt(s): {}", out.id,
                   w.receiver.name, out.attempts, out.detail);
    on_outcome_(std::move(out));
  }
}

// Tries until sent, refused for good, or out of attempts; an empty state when stopped.
NotifyOutcome Notifier::deliver(Worker& w, const AlertNotification& n) {
  const AlertReceiver& r = w.receiver;
  const char* kind = r.kind == AlertReceiver::Kind::kWebhook ? "webhook" : "email";
  NotifyOutcome out{n.id, "", 0, ""};
  std::string body = r.kind == AlertReceiver::Kind::kWebhook ? webhook_body(n) : "";
  for (int attempt = 1;; ++attempt) {
    out.attempts = attempt;
    bool permanent = false;
    int64_t retry_after = 0;
    auto started = Clock::now();
    if (r.kind == AlertReceiver::Kind::kWebhook) {
      PostRequest req;
      req.url = r.url;
      req.body = body;
      req.timeout = std::chrono::milliseconds(r.timeout_ms);
      req.user_agent = std::string("metricsd/") + kVersion;
      std::string ts = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
      req.headers = {{"X-Metricsd-Event", n.t.event},
                     {"X-Metricsd-Delivery", std::to_string(n.id)},
                     {"X-Metricsd-Timestamp", ts}};
      if (!r.secret.empty())
        req.headers.emplace_back("X-Metricsd-Signature",
                                 "sha256=" + hmac_sha256_hex(r.secret, ts + "." + body));
      for (const auto& h : r.headers)
        req.headers.push_back(h);
      PostOutcome p = http_post(req);
      if (p.status >= 200 && p.status < 300) {
        out.state = "sent";
        out.detail = std::to_string(p.status);
      } else if (p.status) {
        out.detail = one_line(std::to_string(p.status) + " " + p.body);
        permanent = p.status >= 400 && p.status < 500 && p.status != 408 && p.status != 429;
        retry_after = retry_after_ms(p.retry_after);
      } else {
        out.detail = one_line(p.error);
      }
    } else if (!email_) {
      out.detail = "alerts.smtp_url is not set";
      permanent = true;
    } else {
      EmailMessage m{email_->from, r.to, email_subject(n), email_body(n)};
      SmtpOutcome s;
      try {
        s = send_email(email_->server, m);
      } catch (const std::exception& e) {
        s = {false, true, e.what()};
      }
      out.detail = one_line(s.detail);
      if (s.ok)
        out.state = "sent";
      else
        permanent = s.permanent;
    }
    latency_.with({kind}).observe(std::chrono::duration<double>(Clock::now() - started).count());
    if (!out.state.empty()) return out;
    if (permanent || attempt >= r.max_attempts) {
      out.state = "failed";
      return out;
    }
    retries_.inc();
    std::unique_lock lock(w.mu);
    if (w.cv.wait_for(lock, backoff(attempt, retry_after), [&] { return w.stopping; })) {
      out.state.clear();
      return out;
    }
  }
}

}  // namespace metricsd::notify
