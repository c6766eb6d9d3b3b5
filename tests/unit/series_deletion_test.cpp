// The pure parts of a series deletion: the range and the rollup buckets it cuts, the head
// losing a range (and its latest value), the rollup-day cache forgetting series, and the
// commit gate dropping samples of deleted series.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "core/commit_gate.hpp"
#include "core/deletion_range.hpp"
#include "core/head.hpp"
#include "core/tier_cache.hpp"

namespace metricsd {
namespace {

using namespace std::chrono_literals;

TEST(DeletionRange, CoversBucketsWhollyPartlyOrNot) {
  const int64_t h = 10 * kHourMs;
  DeletionRange r{h + 90'000, h + 2 * kHourMs};  // 10:01:30 .. 12:00
  EXPECT_EQ(r.cover(h, kHourMs), DeletionRange::Cover::kCut);
  EXPECT_EQ(r.cover(h + kHourMs, kHourMs), DeletionRange::Cover::kWhole);
  EXPECT_EQ(r.cover(h + 2 * kHourMs, kHourMs), DeletionRange::Cover::kNone);
  EXPECT_EQ(r.cover(h, kMinuteMs), DeletionRange::Cover::kNone);
  EXPECT_EQ(r.cover(h + kMinuteMs, kMinuteMs), DeletionRange::Cover::kCut);
  EXPECT_EQ(r.cover(h + 2 * kMinuteMs, kMinuteMs), DeletionRange::Cover::kWhole);
  EXPECT_EQ(r.first_cut_hour().lo, h);
  EXPECT_EQ(r.first_cut_hour().hi, h + kHourMs);
  // `to` on the hour cuts nothing: its span is empty at `to`.
  EXPECT_EQ(r.last_cut_hour().lo, r.to_ms);
  EXPECT_EQ(r.last_cut_hour().hi, r.to_ms);
  EXPECT_EQ(r.with_cut_hours().lo, h);
  EXPECT_EQ(r.with_cut_hours().hi, r.to_ms);
  EXPECT_FALSE(r.whole());
  DeletionRange all;
  EXPECT_TRUE(all.whole());
  EXPECT_EQ(all.first_cut_hour().lo, all.first_cut_hour().hi) << "no bucket is cut";
  EXPECT_EQ(all.cover(0, kHourMs), DeletionRange::Cover::kWhole);
}

TEST(CutBuckets, RecomputesFromWhatIsLeftOnlyWhenTheRawTierHeldEverySample) {
  const int64_t h = 10 * kHourMs;
  DeletionRange r{h + 30 * kMinuteMs, h + 3 * kHourMs};  // the hour from 10:00 is cut
  CutBuckets cut(r);
  // Raw samples of series 1 in hour 10: 3 before the range, 2 in it.
  for (auto [t, v] : std::vector<std::pair<int64_t, double>>{{h + 1000, 1},
                                                             {h + 60'000, 2},
                                                             {h + 29 * kMinuteMs, 3},
                                                             {h + 31 * kMinuteMs, 40},
                                                             {h + 50 * kMinuteMs, 50}})
    cut.raw(1, t, v);
  Aggregate stored;
  stored.n = 5;
  auto left = cut.replacement(1, kHourMs, h, stored);
  ASSERT_TRUE(left.has_value());
  EXPECT_EQ(left->n, 3);
  EXPECT_EQ(left->sum, 6);
  EXPECT_EQ(left->max, 3);
  EXPECT_EQ(left->last, 3);
  EXPECT_EQ(left->last_ts_ms, h + 29 * kMinuteMs);
  // The bucket summarised more than the raw tier still holds (retention): removed.
  stored.n = 7;
  EXPECT_FALSE(cut.replacement(1, kHourMs, h, stored).has_value());
  // Another series, or a bucket with nothing left: removed.
  stored.n = 5;
  EXPECT_FALSE(cut.replacement(2, kHourMs, h, stored).has_value());
  CutBuckets only_deleted(r);
  only_deleted.raw(3, h + 40 * kMinuteMs, 1);
  stored.n = 1;
  EXPECT_FALSE(only_deleted.replacement(3, kHourMs, h, stored).has_value());
  // Minutes inside the range are not cut; the minute holding `from` is not either (on it).
  EXPECT_FALSE(cut.replacement(1, kMinuteMs, h + 31 * kMinuteMs, stored).has_value());
}

TEST(HeadErase, RemovesTheRangeAndFallsBackToTheNewestLatestLeft) {
  Head head;
  std::vector<int64_t> ids, ts;
  std::vector<double> values;
  for (int i = 0; i < 300; ++i) {  // sealed blocks and open samples, plus a late one
    ids.push_back(1);
    ts.push_back(1000 + i * 10);
    values.push_back(i);
  }
  head.append(ids, ts, values);
  head.seal_open();
  head.append({1, 2}, {1005, 5000}, {-1, 7});
  ASSERT_EQ(head.samples(), 302u);
  // [2000, 5000) of series 1: samples 100..299 (and no late one).
  EXPECT_EQ(head.erase(1, 2000, 5000, std::nullopt), 200u);
  EXPECT_EQ(head.samples(), 102u);
  auto left = head.range(1, 0, 10'000);
  ASSERT_EQ(left.size(), 101u);
  EXPECT_EQ(left.back().ts_ms, 1990);
  EXPECT_EQ(left[1].value, -1);  // the late sample, in its place
  // The latest (3990) was in the range: the newest left in the head, unless storage holds a
  // newer one.
  EXPECT_EQ(head.latest(1)->ts_ms, 1990);
  head.append({1}, {6000}, {60});
  head.erase(1, 5500, 7000, Head::Point{5200, 52});
  EXPECT_EQ(head.latest(1)->ts_ms, 5200);
  EXPECT_EQ(head.latest(1)->value, 52);
  // Everything: the series is forgotten; other series keep theirs.
  head.erase(1, DeletionRange::kFirstMs, DeletionRange::kEndMs, std::nullopt);
  EXPECT_FALSE(head.latest(1).has_value());
  EXPECT_TRUE(head.range(1, 0, 10'000).empty());
  EXPECT_EQ(head.series(), 1u);
  EXPECT_EQ(head.latest(2)->value, 7);
  EXPECT_EQ(head.erase(9, 0, 1, std::nullopt), 0u);
}

TEST(TierCacheInvalidateSeries, ForgetsTheSeriesDaysOverlappingTheRange) {
  TierCache cache(1 << 20);
  auto day = std::make_shared<const std::vector<StoredBucket>>(1);
  for (int64_t s : {1, 2, 3})
    for (int64_t d = 0; d < 3; ++d) {
      cache.put(Tier::kRollup1m, s, d * kDayMs, day);
      cache.put(Tier::kRollup1h, s, d * kDayMs, day);
    }
  cache.invalidate_series({1, 3}, kDayMs + 5, kDayMs + 6);  // day 1 of series 1 and 3
  EXPECT_EQ(cache.days(), 14u);
  EXPECT_FALSE(cache.find(Tier::kRollup1h, 3, kDayMs));
  EXPECT_TRUE(cache.find(Tier::kRollup1h, 3, 2 * kDayMs));
  EXPECT_TRUE(cache.find(Tier::kRollup1m, 2, kDayMs));
  cache.invalidate_series({2}, DeletionRange::kFirstMs, DeletionRange::kEndMs);
  EXPECT_EQ(cache.days(), 8u);
}

TEST(CommitGate, DropsSamplesOfBuriedSeriesKeepingTheRestInOrder) {
  CommitGate gate;
  SampleRows rows{{1, 2, 3, 2, 1}, {10, 20, 30, 40, 50}, {1, 2, 3, 4, 5}};
  {
    auto hold = gate.commit();
    EXPECT_EQ(gate.drop_buried(rows), 0u);
  }
  {
    auto hold = gate.exclusive();
    gate.bury({2});
  }
  auto hold = gate.commit();
  EXPECT_EQ(gate.drop_buried(rows), 2u);
  EXPECT_EQ(rows.series_ids, (std::vector<int64_t>{1, 3, 1}));
  EXPECT_EQ(rows.ts_ms, (std::vector<int64_t>{10, 30, 50}));
  EXPECT_EQ(rows.values, (std::vector<double>{1, 3, 5}));
}

// A deletion enters the gate only once the commit in progress has ended, and a commit that
// comes while it holds the gate waits for it.
TEST(CommitGate, ADeletionWaitsForTheCommitInProgressAndHoldsOffNewOnes) {
  CommitGate gate;
  std::atomic<bool> first_done{false}, second_waiting{false};
  std::atomic<int> step{0};
  auto first = std::make_unique<std::shared_lock<std::shared_mutex>>(gate.commit());
  std::thread deletion([&] {
    auto hold = gate.exclusive();
    EXPECT_TRUE(first_done.load()) << "entered while a commit was in progress";
    step = 1;
    for (int i = 0; i < 500 && !second_waiting; ++i)  // at most 5 s
      std::this_thread::sleep_for(10ms);
    std::this_thread::sleep_for(20ms);  // the second commit is blocked on the gate by now
    step = 2;
  });
  std::this_thread::sleep_for(20ms);  // most likely waiting on the gate by now
  first_done = true;
  first.reset();
  for (int i = 0; i < 500 && step.load() == 0; ++i)
    std::this_thread::sleep_for(10ms);
  ASSERT_EQ(step.load(), 1);
  std::thread second([&] {
    second_waiting = true;
    auto hold = gate.commit();
    EXPECT_EQ(step.load(), 2) << "a commit entered while the deletion held the gate";
  });
  deletion.join();
  second.join();
}

}  // namespace
}  // namespace metricsd
