// The in-memory head: sorted inserts, ranges, latest values, removal of compacted samples.
#include "core/head.hpp"

#include <gtest/gtest.h>

#include "core/compaction.hpp"

namespace metricsd {
namespace {

std::vector<int64_t> times(const std::vector<Head::Point>& ps) {
  std::vector<int64_t> out;
  for (const auto& p : ps)
    out.push_back(p.ts_ms);
  return out;
}

TEST(Head, KeepsEachSeriesSortedAndAnswersRanges) {
  Head h;
  h.append({1, 1, 2, 1}, {30, 10, 5, 20}, {3, 1, 50, 2});
  EXPECT_EQ(h.samples(), 4u);
  EXPECT_EQ(h.series(), 2u);
  EXPECT_EQ(times(h.range(1, 0, 100)), (std::vector<int64_t>{10, 20, 30}));
  EXPECT_EQ(times(h.range(1, 10, 30)), (std::vector<int64_t>{10, 20}));  // [from, to)
  EXPECT_TRUE(h.range(3, 0, 100).empty());
  ASSERT_TRUE(h.latest(1).has_value());
  EXPECT_EQ(h.latest(1)->value, 3);  // the latest time, not the last append
  EXPECT_FALSE(h.latest(9).has_value());
}

TEST(Head, RemoveDropsExactlyTheCompactedSamples) {
  Head h;
  h.append({1, 1, 1, 1}, {10, 20, 20, 30}, {1, 2, 2.5, 3});
  // A compaction moved 10 and one of the two samples at 20 (value 2.5).
  Compacted c = compact_samples({1, 1}, {20, 10}, {2.5, 1});
  h.remove(c.chunks);
  EXPECT_EQ(h.samples(), 2u);
  auto left = h.range(1, 0, 100);
  ASSERT_EQ(left.size(), 2u);
  EXPECT_EQ(left[0].ts_ms, 20);
  EXPECT_EQ(left[0].value, 2);
  EXPECT_EQ(left[1].ts_ms, 30);
  // Removing what is not there changes nothing; the latest value survives compaction.
  h.remove(compact_samples({1, 7}, {99, 1}, {9, 9}).chunks);
  EXPECT_EQ(h.samples(), 2u);
  h.remove(compact_samples({1, 1}, {20, 30}, {2, 3}).chunks);
  EXPECT_EQ(h.samples(), 0u);
  EXPECT_EQ(h.latest(1)->ts_ms, 30);
}

TEST(Head, NoteLatestKeepsTheNewer) {
  Head h;
  h.note_latest(4, {100, 1});
  h.note_latest(4, {50, 2});
  EXPECT_EQ(h.latest(4)->value, 1);
  h.append({4}, {200}, {3});
  EXPECT_EQ(h.latest(4)->value, 3);
  h.clear();
  EXPECT_FALSE(h.latest(4).has_value());
  EXPECT_EQ(h.samples(), 0u);
}

}  // namespace
}  // namespace metricsd
