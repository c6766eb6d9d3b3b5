// Compaction arithmetic: windows, rollup buckets, aggregates, late data merging.
#include "core/compaction.hpp"

#include <gtest/gtest.h>

namespace metricsd {
namespace {

TEST(Compaction, FloorToHandlesNegativeTimes) {
  EXPECT_EQ(floor_to(0, 60), 0);
  EXPECT_EQ(floor_to(59, 60), 0);
  EXPECT_EQ(floor_to(60, 60), 60);
  EXPECT_EQ(floor_to(-1, 60), -60);
  EXPECT_EQ(floor_to(-60, 60), -60);
}

TEST(Compaction, GroupsBySeriesAndWindowSortedByTime) {
  // Two series, samples out of order, crossing a window edge and a minute edge.
  int64_t w = kChunkWindowMs;
  std::vector<int64_t> series = {2, 1, 1, 1, 2};
  std::vector<int64_t> ts = {w + 5, w - 1000, 10, w + 70'000, w};
  std::vector<double> vals = {5, 2, 1, 3, 4};
  Compacted c = compact_samples(series, ts, vals);
  ASSERT_EQ(c.chunks.size(), 3u);
  EXPECT_EQ(c.chunks[0].series_id, 1);
  EXPECT_EQ(c.chunks[0].start_ms, 0);
  EXPECT_EQ(c.chunks[0].end_ms, w);
  EXPECT_EQ(c.chunks[0].ts_ms, (std::vector<int64_t>{10, w - 1000}));
  EXPECT_EQ(c.chunks[0].values, (std::vector<double>{1, 2}));
  EXPECT_EQ(c.chunks[1].series_id, 1);
  EXPECT_EQ(c.chunks[1].start_ms, w);
  EXPECT_EQ(c.chunks[2].series_id, 2);
  EXPECT_EQ(c.chunks[2].ts_ms, (std::vector<int64_t>{w, w + 5}));
  EXPECT_EQ(c.chunks[2].agg.n, 2);
  EXPECT_EQ(c.chunks[2].agg.sum, 9);
  EXPECT_EQ(c.chunks[2].agg.min, 4);
  EXPECT_EQ(c.chunks[2].agg.max, 5);
  EXPECT_EQ(c.chunks[2].agg.last, 5);
  EXPECT_EQ(c.chunks[2].agg.last_ts_ms, w + 5);
  // Minutes of series 1: [0,60s) holds 10; [w-60s, w) holds w-1000; [w+60s, ...) holds w+70s.
  ASSERT_EQ(c.rollup_1m.size(), 4u);
  EXPECT_EQ(c.rollup_1m[0].bucket_ms, 0);
  EXPECT_EQ(c.rollup_1m[1].bucket_ms, w - kMinuteMs);
  EXPECT_EQ(c.rollup_1m[2].bucket_ms, w + kMinuteMs);
  // One hour holds all of series 1 (window is 10 minutes).
  ASSERT_EQ(c.rollup_1h.size(), 2u);
  EXPECT_EQ(c.rollup_1h[0].agg.n, 3);
  EXPECT_EQ(c.rollup_1h[0].agg.sum, 6);
  EXPECT_EQ(c.rollup_1h[0].agg.last, 3);
}

TEST(Compaction, DuplicateTimestampsAreAllKept) {
  Compacted c = compact_samples({7, 7}, {100, 100}, {1, 2});
  ASSERT_EQ(c.chunks.size(), 1u);
  EXPECT_EQ(c.chunks[0].values, (std::vector<double>{1, 2}));
  EXPECT_EQ(c.chunks[0].agg.last, 2);
}

TEST(Compaction, MergeKeepsTheLaterLastAndAddsCounts) {
  Aggregate a, b;
  a.add(100, 5);
  a.add(50, -1);  // older sample arriving later does not become `last`
  EXPECT_EQ(a.last, 5);
  b.add(10, 9);
  a.merge(b);
  EXPECT_EQ(a.n, 3);
  EXPECT_EQ(a.sum, 13);
  EXPECT_EQ(a.min, -1);
  EXPECT_EQ(a.max, 9);
  EXPECT_EQ(a.last, 5);
  EXPECT_EQ(a.last_ts_ms, 100);
  Aggregate later;
  later.add(200, 7);
  a.merge(later);
  EXPECT_EQ(a.last, 7);
  Aggregate empty;
  a.merge(empty);
  EXPECT_EQ(a.n, 4);
}

}  // namespace
}  // namespace metricsd
