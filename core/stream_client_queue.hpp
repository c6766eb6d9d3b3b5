// ClientQueue: one stream client's outbound messages, bounded, with the shedding policy.
// `metrics` messages are sheddable: when max_messages are already waiting a new one is
// dropped and counted, and the client is told how many samples it missed (a `dropped`
// message queued just before the next metrics message that fits). Control messages
// (acks, snapshots, pongs, errors, node and event messages) are never shed; they may use
// kControlSlack places beyond the bound, and a client that overflows even that, or whose
// oldest waiting message is older than max_lag_ms, is to be closed. Pure logic, no I/O and
// no locking: the owner guards it.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

namespace metricsd::stream {

using Payload = std::shared_ptr<const std::string>;

class ClientQueue {
 public:
  static constexpr size_t kControlSlack = 64;

  enum class Offer {
    kQueued,
    kShed,      // a metrics message dropped (counted for the next `dropped` message)
    kOverflow,  // a control message found no room: close the client (1008)
    kTooSlow,   // the oldest waiting message is older than max_lag_ms: close it (1013)
  };

  ClientQueue(size_t max_messages, int64_t max_lag_ms)
      : max_messages_(max_messages), max_lag_ms_(max_lag_ms) {}

  Offer push_metrics(Payload p, uint32_t samples, int64_t now_ms);
  Offer push_control(Payload p, int64_t now_ms);
  struct Popped {
    Payload payload;
    uint32_t samples;  // samples it carries (0 for control messages)
  };
  // The next message to write, or nullopt when empty.
  std::optional<Popped> pop();

  size_t size() const { return queue_.size(); }
  bool empty() const { return queue_.empty() && pending_shed_messages_ == 0; }
  // Shed so far (lifetime), for the close log line.
  uint64_t shed_samples_total() const { return shed_samples_total_; }

 private:
  struct Entry {
    Payload payload;
    int64_t queued_ms;
    uint32_t samples;
  };
  bool too_slow(int64_t now_ms) const {
    return !queue_.empty() && now_ms - queue_.front().queued_ms > max_lag_ms_;
  }

  const size_t max_messages_;
  const int64_t max_lag_ms_;
  std::deque<Entry> queue_;
  uint64_t pending_shed_samples_ = 0, pending_shed_messages_ = 0;  // not yet reported
  uint64_t shed_samples_total_ = 0;
};

}  // namespace metricsd::stream
