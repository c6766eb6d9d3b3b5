// Query arithmetic: round steps, tier choice, bucket accumulation; series selection.
#include "core/query_plan.hpp"

#include <gtest/gtest.h>

#include "core/series_filter.hpp"

namespace metricsd {
namespace {

TEST(QueryPlan, StepIsTheSmallestRoundStepWithinMaxPoints) {
  EXPECT_EQ(step_for(0, 1000 * 1000, 1000), 1'000);
  EXPECT_EQ(step_for(0, 24 * kHourMs, 1440), 60'000);
  EXPECT_EQ(step_for(0, 24 * kHourMs, 1000), 120'000);  // 86.4 s -> 2 min
  EXPECT_EQ(step_for(0, 2 * kHourMs, 10), 900'000);
  EXPECT_EQ(step_for(0, 400LL * 86'400'000, 10), 40LL * 86'400'000);
  EXPECT_EQ(step_for(0, 1, 1000), 1'000);
}

TEST(QueryPlan, TierTilesTheBucketsExactly) {
  EXPECT_EQ(tier_for(0, 2 * kHourMs, kHourMs), Tier::kRollup1h);
  EXPECT_EQ(tier_for(0, 2 * kHourMs, 2 * kHourMs), Tier::kRollup1h);
  EXPECT_EQ(tier_for(0, 2 * kHourMs, 10 * kMinuteMs), Tier::kRollup1m);
  EXPECT_EQ(tier_for(kMinuteMs, kHourMs, kHourMs), Tier::kRollup1m);  // from not hour-aligned
  EXPECT_EQ(tier_for(1, kHourMs, kHourMs), Tier::kRaw);
  EXPECT_EQ(tier_for(0, kHourMs, 30'000), Tier::kRaw);
}

TEST(QueryPlan, ReadPlanUsesMinuteRollupsInsideUnalignedEnds) {
  auto p = plan_read(0, 2 * kHourMs, kHourMs);  // aligned: as tier_for, no raw ends
  EXPECT_EQ(p.tier, Tier::kRollup1h);
  EXPECT_FALSE(p.has_raw_ends(0, 2 * kHourMs));
  p = plan_read(1, 2 * kHourMs, kHourMs);
  EXPECT_EQ(p.tier, Tier::kRollup1m);
  EXPECT_EQ(p.inner_from, kMinuteMs);
  EXPECT_EQ(p.inner_to, 2 * kHourMs);
  EXPECT_TRUE(p.has_raw_ends(1, 2 * kHourMs));
  p = plan_read(-90'000, 150'000, 2 * kMinuteMs);  // negative times round the same way
  EXPECT_EQ(p.tier, Tier::kRollup1m);
  EXPECT_EQ(p.inner_from, -60'000);
  EXPECT_EQ(p.inner_to, 120'000);
  // No whole minute inside, or a step that is not whole minutes: raw throughout.
  EXPECT_EQ(plan_read(1'000, 61'000, kMinuteMs).tier, Tier::kRaw);
  EXPECT_EQ(plan_read(1, kHourMs, 30'000).tier, Tier::kRaw);
  EXPECT_EQ(plan_read(1, kHourMs, 90'000).tier, Tier::kRaw);
}

TEST(QueryPlan, AccumulatorBucketsSamplesAndAggregatesAlike) {
  BucketAccumulator raw(0, 120'000, 60'000), rolled(0, 120'000, 60'000);
  std::vector<std::pair<int64_t, double>> samples = {{0, 1},      {30'000, 5},   {59'999, 3},
                                                     {60'000, 7}, {120'000, 99}, {-1, 99}};
  Aggregate minute0, minute1;
  for (auto [t, v] : samples) {
    raw.add(t, v);
    if (t >= 0 && t < 60'000) minute0.add(t, v);
    if (t >= 60'000 && t < 120'000) minute1.add(t, v);
  }
  rolled.add(0, minute0);
  rolled.add(60'000, minute1);
  for (Agg a : {Agg::kAvg, Agg::kMin, Agg::kMax, Agg::kSum, Agg::kCount, Agg::kLast})
    EXPECT_EQ(raw.points(a), rolled.points(a));
  EXPECT_EQ(raw.points(Agg::kSum), (std::vector<std::pair<int64_t, double>>{{0, 9}, {60'000, 7}}));
  EXPECT_EQ(raw.points(Agg::kLast)[0].second, 3);
  EXPECT_TRUE(BucketAccumulator(0, 10, 5).points(Agg::kAvg).empty());
}

TEST(QueryPlan, AggNames) {
  EXPECT_EQ(parse_agg("avg"), Agg::kAvg);
  EXPECT_EQ(parse_agg("last"), Agg::kLast);
  EXPECT_FALSE(parse_agg("median").has_value());
}

TEST(SeriesFilter, GlobMatching) {
  EXPECT_TRUE(glob_match("gpu.*", "gpu.temp_c"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("*.temp_?", "gpu.temp_c"));
  EXPECT_TRUE(glob_match("g*u*c", "gpu.temp_c"));
  EXPECT_FALSE(glob_match("gpu.*", "cpu.temp"));
  EXPECT_FALSE(glob_match("gpu.?", "gpu."));
  EXPECT_FALSE(glob_match("", "x"));
}

TEST(SeriesFilter, GlobStarIsAWildcardEvenFacingALiteralStar) {
  // Regression (fuzz_http_request): `*` was matched as a literal against a `*` in the text
  // and its backtracking point lost, so "*" did not match "*2".
  EXPECT_TRUE(glob_match("*", "*2"));
  EXPECT_TRUE(glob_match("a*", "a*b"));
  EXPECT_TRUE(glob_match("*2", "*2"));
  EXPECT_TRUE(glob_match("?*", "**"));
  EXPECT_FALSE(glob_match("*3", "*2"));
}

TEST(SeriesFilter, EveryCriterionMustMatch) {
  SeriesKey k{"gpu.temp_c", "n1", {{"gpu", "0"}, {"site", "lab"}}};
  SeriesFilter f;
  EXPECT_TRUE(f.matches(k));
  f.category = "gpu";
  f.labels = {{"gpu", "0"}};
  EXPECT_TRUE(f.matches(k));
  f.labels.push_back({"site", "home"});
  EXPECT_FALSE(f.matches(k));
  SeriesFilter g{.metric = "gpu.temp_c", .node = "n2"};
  EXPECT_FALSE(g.matches(k));
  SeriesFilter c{.category = "gp"};
  EXPECT_FALSE(c.matches(k));
}

}  // namespace
}  // namespace metricsd
