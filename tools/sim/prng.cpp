// xoshiro256** and its distributions (see prng.hpp). The generator is Blackman and Vigna's
// public-domain algorithm, written from its published description.
#include "tools/sim/prng.hpp"

#include <cmath>

namespace metricsd::tools {
namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

}  // namespace

uint64_t stream_seed(uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL);
  splitmix64(x);
  return splitmix64(x);
}

Prng::Prng(uint64_t seed) {
  uint64_t x = seed;
  for (auto& s : s_)
    s = splitmix64(x);
}

uint64_t Prng::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Prng::uniform() {
  return static_cast<double>(next() >> 11) * 0x1.0p-53;
}

double Prng::uniform(double lo, double hi) {
  return lo + (hi - lo) * uniform();
}

double Prng::normal(double mean, double sd) {
  // 1 - uniform() is in (0, 1], so the log is finite.
  const double u1 = 1.0 - uniform();
  const double u2 = uniform();
  return mean + sd * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

bool Prng::chance(double p) {
  return uniform() < p;
}

uint64_t Prng::below(uint64_t n) {
  // Rejection keeps it unbiased.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do
    x = next();
  while (x >= limit);
  return x % n;
}

}  // namespace metricsd::tools
