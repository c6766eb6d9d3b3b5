// The simulator's random numbers: xoshiro256** seeded through splitmix64, with the
// distributions written out here (the standard library's distributions differ between
// implementations), so a seed gives the same sample stream on every platform and build.
#pragma once

#include <cstdint>

namespace metricsd::tools {

// A seed for an independent stream (one per node), from the run's seed and a stream number.
uint64_t stream_seed(uint64_t seed, uint64_t stream);

class Prng {
 public:
  explicit Prng(uint64_t seed);

  uint64_t next();
  double uniform();                       // [0, 1), 53 random bits
  double uniform(double lo, double hi);   // [lo, hi)
  double normal(double mean, double sd);  // Box-Muller
  bool chance(double p);                  // true with probability p
  uint64_t below(uint64_t n);             // [0, n), n > 0

 private:
  uint64_t s_[4];
};

}  // namespace metricsd::tools
