// When to try the server again after a failure: exponential backoff with full jitter
// between half and all of the current step (so a fleet that lost its server does not come
// back in lock-step), never sooner than the server's Retry-After.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string_view>

namespace metricsd::tools {

// Retry-After in delay-seconds form ("7"); nullopt for anything else (HTTP dates included:
// the backoff then decides). Capped at one hour.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view header);

class RetryPolicy {
 public:
  RetryPolicy(std::chrono::milliseconds initial, std::chrono::milliseconds max, uint64_t seed);

  // The delay before the next attempt after one more failure.
  std::chrono::milliseconds next_delay(std::optional<std::chrono::milliseconds> retry_after);
  void reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  std::chrono::milliseconds initial_, max_;
  int failures_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace metricsd::tools
