// Query arithmetic; see query_plan.hpp.
#include "core/query_plan.hpp"

#include <algorithm>

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

ReadPlan plan_read(int64_t from, int64_t to, int64_t step) {
  Tier aligned = tier_for(from, to, step);
  if (aligned != Tier::kRaw) return {aligned, from, to};
  if (step % kMinuteMs == 0) {
    int64_t inner_from = floor_to(from, kMinuteMs);
    if (inner_from < from) inner_from += kMinuteMs;
    int64_t inner_to = floor_to(to, kMinuteMs);
    if (inner_from < inner_to) return {Tier::kRollup1m, inner_from, inner_to};
  }
  return {Tier::kRaw, from, to};
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
  for (const auto& [t, a] : buckets_)
    out.emplace_back(t, value_of(a, agg));
  return out;
}

double value_of(const Aggregate& a, Agg agg) {
  switch (agg) {
    case Agg::kAvg:
      return a.sum / static_cast<double>(a.n);
    case Agg::kMin:
      return a.min;
    case Agg::kMax:
      return a.max;
    case Agg::kSum:
      return a.sum;
    case Agg::kCount:
      return static_cast<double>(a.n);
    case Agg::kLast:
      return a.last;
  }
  return 0;
}

Aggregate& OrderedBuckets::slot(Run& run, int64_t bucket) {
  if (run.empty() || run.back().first < bucket) return run.emplace_back(bucket, Aggregate{}).second;
  if (run.back().first == bucket) return run.back().second;
  auto it = std::lower_bound(run.begin(), run.end(), bucket,
                             [](const auto& e, int64_t b) { return e.first < b; });
  if (it->first != bucket) it = run.emplace(it, bucket, Aggregate{});
  return it->second;
}

void OrderedBuckets::add(int64_t bucket, const Aggregate& a) {
  if (bucket < from_ || bucket >= to_) return;
  slot(stored_, floor_to(bucket, step_)).merge(a);
}

void OrderedBuckets::add(int64_t ts, double v) {
  if (ts < from_ || ts >= to_) return;
  slot(samples_, floor_to(ts, step_)).add(ts, v);
}

std::vector<std::pair<int64_t, double>> OrderedBuckets::points(Agg agg) const {
  std::vector<std::pair<int64_t, double>> out;
  out.reserve(stored_.size() + samples_.size());
  size_t i = 0, j = 0;
  while (i < stored_.size() || j < samples_.size()) {
    if (j == samples_.size() || (i < stored_.size() && stored_[i].first < samples_[j].first)) {
      out.emplace_back(stored_[i].first, value_of(stored_[i].second, agg));
      ++i;
    } else if (i == stored_.size() || samples_[j].first < stored_[i].first) {
      out.emplace_back(samples_[j].first, value_of(samples_[j].second, agg));
      ++j;
    } else {
      Aggregate a = stored_[i].second;
      a.merge(samples_[j].second);
      out.emplace_back(stored_[i].first, value_of(a, agg));
      ++i;
      ++j;
    }
  }
  return out;
}

}  // namespace metricsd
