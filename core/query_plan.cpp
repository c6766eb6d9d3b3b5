// Query arithmetic; see query_plan.hpp.
#include "core/query_plan.hpp"

namespace metricsd {

std::optional<Agg> parse_agg(std::string_view s) {
  if (s == "avg") return Agg::kAvg;
  if (s == "min") return Agg::kMin;
  if (s == "max") return Agg::kMax;
  if (s == "sum") return Agg::kSum;
  if (s == "count") return Agg::kCount;
  if (s == "last") return Agg::kLast;
  return std::nullopt;
}

std::string_view to_string(Tier t) {
  switch (t) {
    case Tier::kRaw:
      return "raw";
    case Tier::kRollup1m:
      return "rollup_1m";
    case Tier::kRollup1h:
      return "rollup_1h";
  }
  return "raw";
}

int64_t step_for(int64_t from, int64_t to, int64_t max_points) {
  static constexpr int64_t kSteps[] = {1'000,      2'000,      5'000,     10'000,    15'000,
                                       30'000,     60'000,     120'000,   300'000,   600'000,
                                       900'000,    1'800'000,  3'600'000, 7'200'000, 10'800'000,
                                       21'600'000, 43'200'000, 86'400'000};
  int64_t span = std::max<int64_t>(to - from, 1);
  int64_t raw = (span + max_points - 1) / max_points;
  for (int64_t s : kSteps)
    if (s >= raw) return s;
  return (raw + 86'400'000 - 1) / 86'400'000 * 86'400'000;
}

Tier tier_for(int64_t from, int64_t to, int64_t step) {
  auto tiles = [&](int64_t width) {
    return step % width == 0 && from % width == 0 && to % width == 0;
  };
  if (tiles(kHourMs)) return Tier::kRollup1h;
  if (tiles(kMinuteMs)) return Tier::kRollup1m;
  return Tier::kRaw;
}

void BucketAccumulator::add(int64_t ts, double v) {
  if (ts < from_ || ts >= to_) return;
  buckets_[floor_to(ts, step_)].add(ts, v);
}

void BucketAccumulator::add(int64_t bucket, const Aggregate& a) {
  if (bucket < from_ || bucket >= to_) return;
  buckets_[floor_to(bucket, step_)].merge(a);
}

std::vector<std::pair<int64_t, double>> BucketAccumulator::points(Agg agg) const {
  std::vector<std::pair<int64_t, double>> out;
  out.reserve(buckets_.size());
  for (const auto& [t, a] : buckets_) {
    double v = 0;
    switch (agg) {
      case Agg::kAvg:
        v = a.sum / static_cast<double>(a.n);
        break;
      case Agg::kMin:
        v = a.min;
        break;
      case Agg::kMax:
        v = a.max;
        break;
      case Agg::kSum:
        v = a.sum;
        break;
      case Agg::kCount:
        v = static_cast<double>(a.n);
        break;
      case Agg::kLast:
        v = a.last;
        break;
    }
    out.emplace_back(t, v);
  }
  return out;
}

}  // namespace metricsd
