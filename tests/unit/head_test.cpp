// The in-memory head: sorted inserts, ranges, latest values, removal of compacted samples.
#include "core/head.hpp"

#include <gtest/gtest.h>

#include "core/compaction.hpp"

#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>
#include <map>
#include <random>
#include <vector>

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

// Samples are sealed into encoded blocks (seal_open): a day of regular telemetry takes a
// few bytes a sample, not 16, and every range, whole or cut at any block edge, and every
// removal of a window in the middle gives back exactly the samples, bit for bit.
TEST(Head, SealedSamplesTakeFewBytesAndComeBackExactly) {
  Head h;
  std::vector<int64_t> ids, ts;
  std::vector<double> vals;
  double walk = 40;
  for (int i = 0; i < 8640; ++i) {
    ids.push_back(7);
    ts.push_back(1'767'225'600'000 + int64_t{i} * 10'000);
    walk += (i * 7919 % 11 - 5) * 0.1;
    vals.push_back(i == 100 ? -0.0 : std::round(walk * 10) / 10);
  }
  h.append(ids, ts, vals);
  EXPECT_EQ(h.samples(), 8640u);
  size_t plain = h.bytes();  // append() left at most kSealInline of them plain
  EXPECT_EQ(h.seal_open(), (8640u % Head::kSealInline) / 64 * 64);
  EXPECT_LT(h.bytes(), plain);
  EXPECT_LT(h.bytes(), 8640u * 16 / 5) << "sealed blocks should take a fifth of plain pairs";
  EXPECT_EQ(h.seal_open(), 0u);
  auto all = h.range(7, 0, INT64_MAX);
  ASSERT_EQ(all.size(), 8640u);
  for (size_t i = 0; i < all.size(); ++i) {
    ASSERT_EQ(all[i].ts_ms, ts[i]);
    ASSERT_EQ(std::bit_cast<uint64_t>(all[i].value), std::bit_cast<uint64_t>(vals[i])) << i;
  }
  for (int64_t from : {0, 1, 63, 64, 65, 127, 128, 4000, 8639}) {
    auto part = h.range(7, ts[static_cast<size_t>(from)], ts[static_cast<size_t>(from)] + 700'000);
    EXPECT_EQ(part.size(), std::min<size_t>(70, 8640 - static_cast<size_t>(from))) << from;
    EXPECT_EQ(part.front().ts_ms, ts[static_cast<size_t>(from)]);
  }
  // A compaction takes samples 1000..1059 (a 10-minute window) out of the middle.
  std::vector<int64_t> cids(60, 7), cts(ts.begin() + 1000, ts.begin() + 1060);
  std::vector<double> cvals(vals.begin() + 1000, vals.begin() + 1060);
  h.remove(compact_samples(cids, cts, cvals).chunks);
  EXPECT_EQ(h.samples(), 8580u);
  auto left = h.range(7, 0, INT64_MAX);
  ASSERT_EQ(left.size(), 8580u);
  EXPECT_EQ(left[999].ts_ms, ts[999]);
  EXPECT_EQ(left[1000].ts_ms, ts[1060]);
  EXPECT_EQ(left.back().value, vals.back());
  // Then everything: the series keeps only its latest value.
  cids.assign(8640, 7);
  h.remove(compact_samples(cids, ts, vals).chunks);
  EXPECT_EQ(h.samples(), 0u);
  EXPECT_TRUE(h.range(7, 0, INT64_MAX).empty());
  EXPECT_EQ(h.latest(7)->ts_ms, ts.back());
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

// The head against a plain model: per series, every sample in append order; a range is
// the samples in [from, to) stably sorted by time. Late appends (backfill behind a full
// head), ranges and removals interleave at random.
TEST(Head, MatchesAStableSortedModelUnderLateAppendsAndRemovals) {
  std::mt19937_64 rng(42);
  Head h;
  std::map<int64_t, std::vector<Head::Point>> model;  // append order
  auto sorted_range = [&](int64_t id, int64_t from, int64_t to) {
    std::vector<Head::Point> out;
    for (const auto& p : model[id])
      if (p.ts_ms >= from && p.ts_ms < to) out.push_back(p);
    std::stable_sort(out.begin(), out.end(),
                     [](const Head::Point& a, const Head::Point& b) { return a.ts_ms < b.ts_ms; });
    return out;
  };
  auto same = [](const std::vector<Head::Point>& a, const std::vector<Head::Point>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
      if (a[i].ts_ms != b[i].ts_ms || a[i].value != b[i].value) return false;
    return true;
  };
  int64_t now = 100'000;
  double next_value = 0;
  for (int round = 0; round < 300; ++round) {
    std::vector<int64_t> ids, ts;
    std::vector<double> vals;
    const int n = static_cast<int>(rng() % 200);
    for (int i = 0; i < n; ++i) {
      int64_t id = 1 + static_cast<int64_t>(rng() % 5);
      // Mostly in order; one in three is a backfill far behind, some repeat a time.
      int64_t t = rng() % 3 == 0 ? static_cast<int64_t>(rng() % static_cast<uint64_t>(now))
                                 : now + static_cast<int64_t>(rng() % 3);
      now += 1;
      ids.push_back(id);
      ts.push_back(t);
      vals.push_back(++next_value);
      model[id].push_back({t, next_value});
    }
    h.append(ids, ts, vals);
    if (round % 3 == 1) h.seal_open();
    for (int64_t id = 1; id <= 5; ++id) {
      int64_t a = static_cast<int64_t>(rng() % static_cast<uint64_t>(now + 10));
      int64_t b = static_cast<int64_t>(rng() % static_cast<uint64_t>(now + 10));
      if (a > b) std::swap(a, b);
      ASSERT_TRUE(same(h.range(id, a, b), sorted_range(id, a, b))) << "round " << round;
      ASSERT_TRUE(same(h.range(id, 0, now + 10), sorted_range(id, 0, now + 10)));
    }
    if (round % 7 == 6) {  // a compaction moves some samples of every series
      std::vector<int64_t> cids, cts;
      std::vector<double> cvals;
      for (auto& [id, pts] : model) {
        std::vector<Head::Point> keep;
        for (const auto& p : pts) {
          if (rng() % 2) {
            cids.push_back(id);
            cts.push_back(p.ts_ms);
            cvals.push_back(p.value);
          } else {
            keep.push_back(p);
          }
        }
        pts = keep;
      }
      h.remove(compact_samples(cids, cts, cvals).chunks);
    }
    size_t total = 0;
    for (const auto& [id, pts] : model)
      total += pts.size();
    ASSERT_EQ(h.samples(), total);
  }
}

}  // namespace
}  // namespace metricsd
