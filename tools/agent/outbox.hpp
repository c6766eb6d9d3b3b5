// What the agent has collected and not yet delivered, shared by the collector thread (and
// the line-protocol listener), which add, and the sender thread, which takes. Holds at most
// one pending heartbeat (a newer collection replaces it, and the replaced heartbeat's
// metrics move into the sample buffer with their own time, so nothing is lost), a bounded
// buffer of samples and one of line-protocol lines (oldest shed first, counted; lines are
// also bounded by kMaxLineBytes in all), and the node events (XID errors) waiting for a
// heartbeat to carry them (at most kMaxEvents, oldest shed).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tools/agent/bounded_buffer.hpp"
#include "tools/agent/system_collector.hpp"

namespace metricsd::tools {

class Outbox {
 public:
  static constexpr size_t kMaxLineBytes = 64 << 20;
  static constexpr size_t kMaxEvents = 1000;
  static constexpr size_t kEventsPerHeartbeat = 100;  // the server's limit per heartbeat

  explicit Outbox(size_t capacity);

  void add_collection(Collection c);
  void add_lines(std::vector<std::string> lines);

  // The pending heartbeat with up to kEventsPerHeartbeat of the waiting events.
  std::optional<Collection> take_heartbeat();
  // The heartbeat could not be delivered: keep its metrics as timestamped samples, and its
  // events for the next one unless `drop_events` (the server refused them).
  void heartbeat_failed(const Collection& c, bool drop_events = false);
  std::vector<Sample> take_samples(size_t max);
  void restore_samples(std::vector<Sample> batch);
  std::vector<std::string> take_lines(size_t max, size_t max_bytes);
  void restore_lines(std::vector<std::string> batch);

  bool empty() const;
  size_t pending_samples() const;
  size_t pending_lines() const;
  size_t pending_events() const;
  // Shed since the last call (samples, lines), for the sender's log.
  std::pair<uint64_t, uint64_t> take_shed_counts();
  uint64_t take_shed_events();

  // Blocks until there is something to send and `not_before` has passed, or stop.
  // Returns false when stopping.
  bool wait_for_work(std::chrono::steady_clock::time_point not_before);
  // Sleeps until `until` or stop; returns false when stopping.
  bool sleep_until(std::chrono::steady_clock::time_point until);
  void request_stop();
  bool stopping() const;

 private:
  bool has_work_locked() const;
  void add_event_locked(nlohmann::json e, bool front);

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  std::optional<Collection> heartbeat_;
  BoundedBuffer<Sample> samples_;
  BoundedBuffer<std::string> lines_;
  std::deque<nlohmann::json> events_;
  uint64_t shed_events_ = 0, reported_shed_events_ = 0;
  uint64_t reported_shed_samples_ = 0, reported_shed_lines_ = 0;
  bool stop_ = false;
};

}  // namespace metricsd::tools
