// RateWindow: how many things (committed samples) happened per second over the last
// minute, as a ring of one-second buckets (60 full seconds plus the current one).
// Writers call add() (the group commit writer's hook), readers per_second() (GET
// /api/v1/summary). Pure logic: the caller passes the time, normally RateWindow::now_s().
#pragma once

#include <array>
#include <cstdint>
#include <mutex>

namespace metricsd {

class RateWindow {
 public:
  static constexpr int64_t kSeconds = 60;
  // The kSeconds full seconds a reading sums plus the current one being added to, so
  // that adding now never overwrites the oldest second still read.
  static constexpr int64_t kSlots = kSeconds + 1;

  // Counts n events in second now_s.
  void add(uint64_t n, int64_t now_s);
  // Events per second over the kSeconds full seconds before now_s: their sum / kSeconds.
  // The current second is left out: it is still filling.
  double per_second(int64_t now_s) const;

  // Seconds of a monotonic clock (steady_clock): the time base to pass to both calls, so
  // a wall-clock step does not disturb the rate.
  static int64_t now_s();

 private:
  struct Bucket {
    int64_t second = INT64_MIN;  // which second the count belongs to; INT64_MIN = empty
    uint64_t count = 0;
  };
  static size_t slot(int64_t second);

  // Invariant: a bucket's second is at most newest_, and every second within the window
  // (newest_ - kSlots, newest_] that has a count has it in its own slot; a slot whose
  // second is older than that is reused when its second comes round again.
  mutable std::mutex mu_;  // guards buckets_ and newest_
  std::array<Bucket, kSlots> buckets_{};
  int64_t newest_ = INT64_MIN;  // the latest second add() was given
};

}  // namespace metricsd
