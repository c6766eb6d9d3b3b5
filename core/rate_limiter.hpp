// Token buckets by key (a token id, or a client address): each key may spend `rate` units
// a second on average and `burst` at once. Bounded: at most `max_keys` buckets are kept;
// when full, buckets that have refilled (idle keys) are dropped first. Thread-safe.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace metricsd {

class RateLimiter {
 public:
  RateLimiter(double rate_per_s, double burst, size_t max_keys);

  // Spends `cost` from the key's bucket at time `now_s` (any monotonic seconds). Returns 0
  // when allowed, else the seconds until the cost would be affordable (nothing is spent).
  // A cost above the burst is allowed once the bucket is full (it goes into debt).
  double take(std::string_view key, double cost, double now_s);
  // The seconds until one unit would be affordable (0: now), spending nothing.
  double wait(std::string_view key, double now_s) const;

  size_t keys() const;
  double rate() const { return rate_; }

 private:
  struct Bucket {
    double tokens;
    double updated_s;
  };
  void make_room(double now_s);  // with mu_ held

  const double rate_, burst_;
  const size_t max_keys_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace metricsd
