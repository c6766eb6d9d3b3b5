// A latency histogram in whole milliseconds (0 .. 60 s, larger values in the last bucket),
// safe to record into from several threads (relaxed atomics), read after the run.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>

namespace metricsd::bench {

class LatencyHistogram {
 public:
  static constexpr int64_t kMaxMs = 60'000;
  LatencyHistogram() : counts_(std::make_unique<std::atomic<uint64_t>[]>(kMaxMs + 1)) {}

  void record(int64_t ms, uint64_t n = 1) {
    if (ms < 0) ms = 0;  // clocks of one machine; a negative value is rounding
    if (ms > kMaxMs) ms = kMaxMs;
    counts_[ms].fetch_add(n, std::memory_order_relaxed);
  }
  uint64_t total() const {
    uint64_t t = 0;
    for (int64_t i = 0; i <= kMaxMs; ++i)
      t += counts_[i].load(std::memory_order_relaxed);
    return t;
  }
  // The smallest ms with at least q of the recorded values at or below it; -1 when empty.
  int64_t quantile(double q) const {
    uint64_t t = total();
    if (t == 0) return -1;
    auto want = static_cast<uint64_t>(q * static_cast<double>(t));
    if (want == 0) want = 1;
    uint64_t seen = 0;
    for (int64_t i = 0; i <= kMaxMs; ++i) {
      seen += counts_[i].load(std::memory_order_relaxed);
      if (seen >= want) return i;
    }
    return kMaxMs;
  }
  void reset() {
    for (int64_t i = 0; i <= kMaxMs; ++i)
      counts_[i].store(0, std::memory_order_relaxed);
  }

 private:
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
};

}  // namespace metricsd::bench
