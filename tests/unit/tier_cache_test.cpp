// The rollup day cache and the ordered bucketing its answers use: bounded by bytes with
// least-recently-used eviction, invalidation by (series, day) and by retention, and the
// same buckets as the map-based accumulator whatever the order of the input.
#include "core/tier_cache.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>

#include "storage/storage_pool.hpp"

namespace metricsd {
namespace {

TierCache::Day day_of(int64_t day_ms, size_t rows) {
  std::vector<StoredBucket> v;
  for (size_t i = 0; i < rows; ++i) {
    Aggregate a;
    a.add(day_ms + static_cast<int64_t>(i) * kMinuteMs, static_cast<double>(i));
    v.push_back({day_ms + static_cast<int64_t>(i) * kMinuteMs, a});
  }
  return std::make_shared<const std::vector<StoredBucket>>(std::move(v));
}

TEST(TierCache, HoldsWhatWasPutByTierSeriesAndDay) {
  TierCache c(1 << 20);
  c.put(Tier::kRollup1m, 7, kDayMs, day_of(kDayMs, 3));
  ASSERT_NE(c.find(Tier::kRollup1m, 7, kDayMs), nullptr);
  EXPECT_EQ(c.find(Tier::kRollup1m, 7, kDayMs)->size(), 3u);
  EXPECT_EQ(c.find(Tier::kRollup1h, 7, kDayMs), nullptr);
  EXPECT_EQ(c.find(Tier::kRollup1m, 8, kDayMs), nullptr);
  EXPECT_EQ(c.find(Tier::kRollup1m, 7, 2 * kDayMs), nullptr);
  EXPECT_EQ(c.bytes(), TierCache::cost(3));
  // Putting the same day again replaces it without charging twice.
  c.put(Tier::kRollup1m, 7, kDayMs, day_of(kDayMs, 5));
  EXPECT_EQ(c.find(Tier::kRollup1m, 7, kDayMs)->size(), 5u);
  EXPECT_EQ(c.bytes(), TierCache::cost(5));
  EXPECT_EQ(c.days(), 1u);
}

TEST(TierCache, StaysWithinItsBytesEvictingTheLeastRecentlyUsed) {
  const size_t rows = 100;
  TierCache c(TierCache::cost(rows) * 4);
  for (int64_t s = 1; s <= 4; ++s)
    c.put(Tier::kRollup1m, s, 0, day_of(0, rows));
  ASSERT_EQ(c.days(), 4u);
  ASSERT_NE(c.find(Tier::kRollup1m, 1, 0), nullptr);  // 1 is now the most recent
  c.put(Tier::kRollup1m, 5, 0, day_of(0, rows));
  EXPECT_LE(c.bytes(), TierCache::cost(rows) * 4);
  EXPECT_EQ(c.find(Tier::kRollup1m, 2, 0), nullptr);  // the least recent went
  EXPECT_NE(c.find(Tier::kRollup1m, 1, 0), nullptr);
  EXPECT_NE(c.find(Tier::kRollup1m, 5, 0), nullptr);
  EXPECT_EQ(c.evictions(), 1u);
  // A day bigger than a quarter of the budget is not held at all.
  c.put(Tier::kRollup1m, 6, 0, day_of(0, rows * 2));
  EXPECT_EQ(c.find(Tier::kRollup1m, 6, 0), nullptr);
  EXPECT_NE(c.find(Tier::kRollup1m, 5, 0), nullptr);
}

TEST(TierCache, ReadersKeepTheirDayAfterEviction) {
  TierCache c(TierCache::cost(10) * 4);
  c.put(Tier::kRollup1h, 1, 0, day_of(0, 10));
  auto held = c.find(Tier::kRollup1h, 1, 0);
  c.invalidate(Tier::kRollup1h, {{1, 0}});
  EXPECT_EQ(c.find(Tier::kRollup1h, 1, 0), nullptr);
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(held->size(), 10u);
}

TEST(TierCache, InvalidatesBySeriesDayAndByRetention) {
  TierCache c(1 << 20);
  for (int64_t d = 0; d < 3; ++d)
    for (int64_t s = 1; s <= 2; ++s) {
      c.put(Tier::kRollup1m, s, d * kDayMs, day_of(d * kDayMs, 2));
      c.put(Tier::kRollup1h, s, d * kDayMs, day_of(d * kDayMs, 2));
    }
  c.invalidate(Tier::kRollup1m, {{1, kDayMs}, {2, 2 * kDayMs}, {9, 0}});
  EXPECT_EQ(c.find(Tier::kRollup1m, 1, kDayMs), nullptr);
  EXPECT_EQ(c.find(Tier::kRollup1m, 2, 2 * kDayMs), nullptr);
  EXPECT_NE(c.find(Tier::kRollup1m, 2, kDayMs), nullptr);
  EXPECT_NE(c.find(Tier::kRollup1h, 1, kDayMs), nullptr);  // other tier untouched
  // Retention: days ending at or before 2 d go; the day [2 d, 3 d) stays.
  c.drop_ending_by(Tier::kRollup1h, 2 * kDayMs);
  EXPECT_EQ(c.find(Tier::kRollup1h, 1, 0), nullptr);
  EXPECT_EQ(c.find(Tier::kRollup1h, 2, kDayMs), nullptr);
  EXPECT_NE(c.find(Tier::kRollup1h, 1, 2 * kDayMs), nullptr);
  EXPECT_NE(c.find(Tier::kRollup1m, 1, 0), nullptr);
  c.clear();
  EXPECT_EQ(c.days(), 0u);
  EXPECT_EQ(c.bytes(), 0u);
}

TEST(TierCache, ZeroBytesHoldsNothing) {
  TierCache c(0);
  EXPECT_FALSE(c.enabled());
  c.put(Tier::kRollup1m, 1, 0, day_of(0, 1));
  EXPECT_EQ(c.find(Tier::kRollup1m, 1, 0), nullptr);
  EXPECT_EQ(c.bytes(), 0u);
}

// Readers, writers, invalidation and retention at once: every day found is whole (its
// rows are those put for its key), the bound holds, and nothing is freed under a reader
// (the sanitizer build runs this too).
TEST(TierCache, ConcurrentUseKeepsDaysWholeAndTheBound) {
  const size_t budget = TierCache::cost(40) * 30;
  TierCache c(budget);
  std::atomic<bool> bad{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<uint64_t>(t));
      for (int i = 0; i < 20'000; ++i) {
        int64_t series = static_cast<int64_t>(rng() % 64), day = static_cast<int64_t>(rng() % 4);
        size_t rows = static_cast<size_t>(series % 40 + 1);
        switch (rng() % 8) {
          case 0:
          case 1:
            c.put(Tier::kRollup1m, series, day * kDayMs, day_of(day * kDayMs, rows));
            break;
          case 2:
            c.invalidate(Tier::kRollup1m, {{series, day * kDayMs}});
            break;
          case 3:
            if (i % 1000 == 0) c.drop_ending_by(Tier::kRollup1m, kDayMs);
            break;
          default:
            if (auto d = c.find(Tier::kRollup1m, series, day * kDayMs)) {
              if (d->size() != rows || d->front().bucket_ms != day * kDayMs) bad = true;
            }
        }
        if (c.bytes() > budget) bad = true;
      }
    });
  for (auto& th : threads)
    th.join();
  EXPECT_FALSE(bad.load());
  EXPECT_LE(c.bytes(), budget);
}

// OrderedBuckets must agree with BucketAccumulator on any input, in order or not.
TEST(OrderedBuckets, MatchesTheAccumulatorInAnyOrder) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 50; ++round) {
    int64_t from = static_cast<int64_t>(rng() % 600'000), to = from + 3'600'000;
    int64_t step = round % 2 ? kMinuteMs : 5 * kMinuteMs;
    BucketAccumulator want(from, to, step);
    OrderedBuckets got(from, to, step);
    std::vector<StoredBucket> stored;
    for (int64_t m = 0; m < 70; ++m) {
      Aggregate a;
      for (int k = 0; k < 3; ++k)
        a.add(m * kMinuteMs + k * 10'000, static_cast<double>(rng() % 1000));
      stored.push_back({m * kMinuteMs, a});
    }
    std::vector<std::pair<int64_t, double>> samples;
    for (int k = 0; k < 200; ++k)
      samples.emplace_back(static_cast<int64_t>(rng() % 4'300'000) - 100'000,
                           static_cast<double>(rng() % 1000));
    if (round % 3 == 0) {
      std::sort(samples.begin(), samples.end());
    } else {
      std::shuffle(stored.begin(), stored.end(), rng);
    }
    // Only whole stored minutes inside [from, to) tile a query bucket; the accumulator
    // and the reader only ever get those.
    for (const auto& s : stored)
      if (s.bucket_ms >= from && s.bucket_ms + kMinuteMs <= to && s.bucket_ms % kMinuteMs == 0 &&
          from % kMinuteMs == 0) {
        want.add(s.bucket_ms, s.agg);
        got.add(s.bucket_ms, s.agg);
      }
    for (auto [t, v] : samples) {
      want.add(t, v);
      got.add(t, v);
    }
    for (Agg a : {Agg::kMin, Agg::kMax, Agg::kCount, Agg::kLast})
      EXPECT_EQ(got.points(a), want.points(a)) << "round " << round;
    // Sums may differ in the last bit only through addition order; these are integers.
    EXPECT_EQ(got.points(Agg::kSum), want.points(Agg::kSum)) << "round " << round;
  }
}

TEST(OrderedBuckets, EmptyAndOutsideTheRange) {
  OrderedBuckets b(60'000, 120'000, 60'000);
  EXPECT_TRUE(b.points(Agg::kAvg).empty());
  b.add(59'999, 1.0);
  b.add(120'000, 1.0);
  Aggregate a;
  a.add(0, 5);
  b.add(0, a);
  EXPECT_TRUE(b.points(Agg::kCount).empty());
  b.add(60'000, 2.0);
  b.add(60'000, a);
  EXPECT_EQ(b.points(Agg::kCount), (Points{{60'000, 2}}));
  EXPECT_EQ(b.points(Agg::kLast), (Points{{60'000, 2}}));  // the sample at 60 s is later
}

TEST(StoragePool, StatementTimeoutGoesIntoTheConnectionOptions) {
  using storage::StoragePool;
  EXPECT_EQ(StoragePool::with_statement_timeout("host=/run dbname=m", 2500),
            "host=/run dbname=m options='-c statement_timeout=2500'");
  EXPECT_EQ(StoragePool::with_statement_timeout("postgresql://h/db", 100),
            "postgresql://h/db?options=-c%20statement_timeout%3D100");
  EXPECT_EQ(StoragePool::with_statement_timeout("postgresql://h/db?sslmode=require", 100),
            "postgresql://h/db?sslmode=require&options=-c%20statement_timeout%3D100");
  // The user's own options win; 0 adds nothing.
  EXPECT_EQ(StoragePool::with_statement_timeout("options='-c work_mem=4MB'", 100),
            "options='-c work_mem=4MB'");
  EXPECT_EQ(StoragePool::with_statement_timeout("dbname=m", 0), "dbname=m");
}

}  // namespace
}  // namespace metricsd
