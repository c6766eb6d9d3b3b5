// The clocks the daemon and the tools read, in the units they use: wall time (system_clock)
// as unix milliseconds or nanoseconds for timestamps, and the monotonic clock
// (steady_clock) for deadlines and intervals, which no clock adjustment moves.
// Header-only; thread-safe (they only read the clocks).
#pragma once

#include <chrono>
#include <cstdint>

namespace metricsd {

// Unix time in milliseconds (system_clock): sample and message timestamps.
inline int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Unix time in nanoseconds (system_clock): line-protocol timestamps.
inline int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Monotonic milliseconds (steady_clock) since an arbitrary epoch: only differences mean
// anything.
inline int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Monotonic seconds (steady_clock) since an arbitrary epoch, with fractions: rates over
// intervals.
inline double steady_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace metricsd
