// A bounded FIFO of items waiting to be sent (samples, line-protocol lines). When full (too
// many items, or too many bytes for items that have a size), the oldest items are shed to
// make room and counted: during a long outage the newest data is the most useful. Not
// thread-safe by itself; the agent's Outbox guards it with its mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <string>
#include <vector>

namespace metricsd::tools {

// The bytes an item counts against a byte budget: strings by their size, other items nothing
// (their count bound suffices).
template <typename T>
size_t budget_bytes(const T&) {
  return 0;
}
inline size_t budget_bytes(const std::string& s) {
  return s.size();
}

template <typename T>
class BoundedBuffer {
 public:
  explicit BoundedBuffer(size_t capacity, size_t max_bytes = std::numeric_limits<size_t>::max())
      : capacity_(capacity), max_bytes_(max_bytes) {}

  // Appends, shedding the oldest beyond the bounds; returns how many were shed.
  size_t push(std::vector<T>&& items) {
    for (auto& item : items) {
      bytes_ += budget_bytes(item);
      items_.push_back(std::move(item));
    }
    return shed_excess();
  }

  // Removes and returns up to `max` of the oldest items, and (for items with a size) no
  // more than `max_bytes` of them unless the first alone is larger.
  std::vector<T> take(size_t max, size_t max_bytes = std::numeric_limits<size_t>::max()) {
    std::vector<T> out;
    size_t taken_bytes = 0;
    while (!items_.empty() && out.size() < max) {
      const size_t b = budget_bytes(items_.front());
      if (!out.empty() && taken_bytes + b > max_bytes) break;
      taken_bytes += b;
      bytes_ -= budget_bytes(items_.front());
      out.push_back(std::move(items_.front()));
      items_.pop_front();
    }
    return out;
  }

  // Puts a batch that could not be sent back in front, in order. What no longer fits is shed
  // from the oldest end (the batch's own front first); returns how many were shed.
  size_t restore(std::vector<T>&& batch) {
    for (auto it = batch.rbegin(); it != batch.rend(); ++it) {
      bytes_ += budget_bytes(*it);
      items_.push_front(std::move(*it));
    }
    return shed_excess();
  }

  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  size_t capacity() const { return capacity_; }
  uint64_t shed_total() const { return shed_total_; }

 private:
  size_t shed_excess() {
    size_t shed = 0;
    while (!items_.empty() && (items_.size() > capacity_ || bytes_ > max_bytes_)) {
      bytes_ -= budget_bytes(items_.front());
      items_.pop_front();
      ++shed;
    }
    shed_total_ += shed;
    return shed;
  }

  size_t capacity_, max_bytes_;
  size_t bytes_ = 0;  // budget_bytes of the items held
  std::deque<T> items_;
  uint64_t shed_total_ = 0;
};

}  // namespace metricsd::tools
