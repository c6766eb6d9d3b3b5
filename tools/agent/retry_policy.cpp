// Backoff arithmetic (see retry_policy.hpp).
#include "tools/agent/retry_policy.hpp"

#include <algorithm>

#include "tools/agent/proc_parse.hpp"

namespace metricsd::tools {

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view header) {
  while (!header.empty() && header.front() == ' ')
    header.remove_prefix(1);
  while (!header.empty() && header.back() == ' ')
    header.remove_suffix(1);
  auto s = parse_u64(header);
  if (!s) return std::nullopt;
  return std::chrono::milliseconds(std::min<uint64_t>(*s, 3600) * 1000);
}

RetryPolicy::RetryPolicy(std::chrono::milliseconds initial, std::chrono::milliseconds max,
                         uint64_t seed)
    : initial_(initial), max_(std::max(initial, max)), rng_(seed) {}

std::chrono::milliseconds RetryPolicy::next_delay(
    std::optional<std::chrono::milliseconds> retry_after) {
  const int doublings = std::min(failures_, 30);
  ++failures_;
  const int64_t step =
      std::min<int64_t>(max_.count(), initial_.count() * (int64_t{1} << std::min(doublings, 20)));
  // Full jitter in [step/2, step]: uniform from the raw 64-bit draw (no std distribution).
  const int64_t half = step / 2;
  const int64_t jitter =
      half > 0 ? static_cast<int64_t>(rng_() % static_cast<uint64_t>(half + 1)) : 0;
  std::chrono::milliseconds delay(half + jitter);
  if (retry_after && *retry_after > delay) delay = *retry_after;
  return delay;
}

}  // namespace metricsd::tools
