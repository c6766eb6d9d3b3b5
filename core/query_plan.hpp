// Query arithmetic: choosing the bucket width (step), which stored tier can answer it
// exactly, and accumulating samples or stored aggregates into aligned buckets.
// Buckets are [k * step, (k + 1) * step) from the unix epoch; a query covers [from, to).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/compaction.hpp"

namespace metricsd {

enum class Agg { kAvg, kMin, kMax, kSum, kCount, kLast };
std::optional<Agg> parse_agg(std::string_view s);

enum class Tier { kRaw, kRollup1m, kRollup1h };

// A query's buckets: [from, to) cut at multiples of step from the epoch, reduced by agg.
struct QueryRange {
  int64_t from_ms, to_ms, step_ms;
  Agg agg;
};
using Points = std::vector<std::pair<int64_t, double>>;  // (bucket start, value) in order
std::string_view to_string(Tier t);

// The smallest "round" step (1s, 2s, 5s, 10s, 15s, 30s, 1m, 2m, 5m, 10m, 15m, 30m, 1h, 2h,
// 3h, 6h, 12h, 1d, then whole days) giving at most max_points buckets over [from, to).
int64_t step_for(int64_t from_ms, int64_t to_ms, int64_t max_points);

// The coarsest tier whose buckets tile every query bucket exactly: the step and both
// ends must be multiples of the tier's bucket.
Tier tier_for(int64_t from_ms, int64_t to_ms, int64_t step_ms);

// How a query reads: `tier` over [inner_from, inner_to), raw chunks over what is left at
// either end (each end lies inside one query bucket, shorter than the tier's bucket), the
// head over all of [from, to). With both ends aligned this is tier_for's answer and there
// are no raw ends; a step that is a multiple of a minute but ends that are not (a relative
// range like from=-24h) reads 1-minute rollups with raw ends instead of raw throughout.
struct ReadPlan {
  Tier tier;
  int64_t inner_from, inner_to;
  bool has_raw_ends(int64_t from_ms, int64_t to_ms) const {
    return tier != Tier::kRaw && (inner_from != from_ms || inner_to != to_ms);
  }
};
ReadPlan plan_read(int64_t from_ms, int64_t to_ms, int64_t step_ms);

// A stored aggregate of [bucket_ms, bucket_ms + tier width).
struct StoredBucket {
  int64_t bucket_ms;
  Aggregate agg;
};

// The value of an aggregate under agg (avg of no samples is not asked for).
double value_of(const Aggregate& a, Agg agg);

// Buckets for inputs in time order (stored rows day by day, head samples): each kind is
// folded into its own sorted run without a map, and the two merge at the end. An input
// out of order still lands in its bucket, only slower.
class OrderedBuckets {
 public:
  OrderedBuckets(int64_t from_ms, int64_t to_ms, int64_t step_ms)
      : from_(from_ms), to_(to_ms), step_(step_ms) {}
  void add(int64_t bucket_ms, const Aggregate& a);  // a stored aggregate; outside: ignored
  void add(int64_t ts_ms, double value);            // a raw sample; outside: ignored
  std::vector<std::pair<int64_t, double>> points(Agg agg) const;

 private:
  using Run = std::vector<std::pair<int64_t, Aggregate>>;
  static Aggregate& slot(Run& run, int64_t bucket);
  const int64_t from_, to_, step_;
  Run stored_, samples_;
};

class BucketAccumulator {
 public:
  BucketAccumulator(int64_t from_ms, int64_t to_ms, int64_t step_ms)
      : from_(from_ms), to_(to_ms), step_(step_ms) {}
  // A raw sample; ignored outside [from, to).
  void add(int64_t ts_ms, double value);
  // A stored aggregate of [bucket_ms, bucket_ms + width), which lies inside one query bucket.
  void add(int64_t bucket_ms, const Aggregate& a);
  bool empty() const { return buckets_.empty(); }
  // (bucket start, value) in time order; empty buckets are absent.
  std::vector<std::pair<int64_t, double>> points(Agg agg) const;

 private:
  const int64_t from_, to_, step_;
  std::map<int64_t, Aggregate> buckets_;
};

}  // namespace metricsd
