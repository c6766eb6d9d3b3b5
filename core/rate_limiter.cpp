// Token buckets; see rate_limiter.hpp.
#include "core/rate_limiter.hpp"

#include <algorithm>

namespace metricsd {

RateLimiter::RateLimiter(double rate_per_s, double burst, size_t max_keys)
    : rate_(rate_per_s), burst_(std::max(burst, 1.0)), max_keys_(std::max<size_t>(max_keys, 1)) {}

double RateLimiter::take(std::string_view key, double cost, double now_s) {
  std::lock_guard lock(mu_);
  auto it = buckets_.find(std::string(key));
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) make_room(now_s);
    it = buckets_.emplace(std::string(key), Bucket{burst_, now_s}).first;
  }
  Bucket& b = it->second;
  if (now_s > b.updated_s) {
    b.tokens = std::min(burst_, b.tokens + (now_s - b.updated_s) * rate_);
    b.updated_s = now_s;
  }
  // A request larger than the burst may pass when the bucket is full, leaving a debt.
  double need = std::min(cost, burst_);
  if (b.tokens + 1e-9 < need) return (need - b.tokens) / rate_;
  b.tokens -= cost;
  return 0;
}

double RateLimiter::wait(std::string_view key, double now_s) const {
  std::lock_guard lock(mu_);
  auto it = buckets_.find(std::string(key));
  if (it == buckets_.end()) return 0;
  double tokens =
      std::min(burst_, it->second.tokens + std::max(0.0, now_s - it->second.updated_s) * rate_);
  return tokens + 1e-9 >= 1 ? 0 : (1 - tokens) / rate_;
}

size_t RateLimiter::keys() const {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

void RateLimiter::make_room(double now_s) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    double refilled = it->second.tokens + (now_s - it->second.updated_s) * rate_;
    it = refilled >= burst_ ? buckets_.erase(it) : std::next(it);
  }
  // Every key busy: drop half of them rather than grow without bound.
  for (auto it = buckets_.begin(); buckets_.size() >= max_keys_ / 2 + 1 && it != buckets_.end();)
    it = buckets_.erase(it);
}

}  // namespace metricsd
