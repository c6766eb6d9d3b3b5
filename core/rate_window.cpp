// The one-minute rate window; see rate_window.hpp.
#include "core/rate_window.hpp"

#include <chrono>

namespace metricsd {

size_t RateWindow::slot(int64_t second) {
  // Floor modulo: seconds before the epoch of the clock still map into [0, kSlots).
  return static_cast<size_t>(((second % kSlots) + kSlots) % kSlots);
}

void RateWindow::add(uint64_t n, int64_t now_s) {
  std::lock_guard lock(mu_);
  if (newest_ != INT64_MIN && now_s <= newest_ - kSlots) {
    // The clock went back by a whole window or more: what is held lies "in the future"
    // and would be counted again once the clock got there. Start a new window instead.
    // A smaller step back stays in the window: those seconds are lived twice and their
    // counts add up in the same buckets, which over-reads the rate for at most a minute.
    buckets_.fill(Bucket{});
    newest_ = INT64_MIN;
  }
  if (newest_ == INT64_MIN || now_s > newest_) newest_ = now_s;
  Bucket& b = buckets_[slot(now_s)];
  if (b.second == now_s) {
    b.count += n;
  } else {
    b = {now_s, n};  // the slot held a second older than the window (or nothing)
  }
}

double RateWindow::per_second(int64_t now_s) const {
  uint64_t sum = 0;
  {
    std::lock_guard lock(mu_);
    for (const Bucket& b : buckets_)
      if (b.second != INT64_MIN && b.second < now_s && b.second >= now_s - kSeconds) sum += b.count;
  }
  return static_cast<double>(sum) / static_cast<double>(kSeconds);
}

int64_t RateWindow::now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace metricsd
