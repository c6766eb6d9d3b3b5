// The line-protocol series cache: decoding through it gives exactly what decoding
// without it gives, for lines seen before, changed, partly new, malformed or late.
#include "api/line_series_cache.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <map>
#include <string>
#include <vector>

#include "api/ingest_decode.hpp"
#include "core/names.hpp"

namespace metricsd::api {
namespace {

constexpr int64_t kNow = 1'795'514'400'000;  // 2026-11-24T10:00:00Z
const TimeBounds kBounds{kNow, 300'000, 30LL * 86'400'000};

// The registry's contract over a plain map: identity -> id.
class MapResolver : public SeriesResolver {
 public:
  int64_t find(const std::string& identity) const override {
    auto it = ids.find(identity);
    return it == ids.end() ? 0 : it->second;
  }
  // Registers every new series of a batch.
  // Stores every series `body` names (as the registry does once a write commits).
  void store(std::string_view body, std::string_view default_node = "") {
    Problems problems;
    LineProtocolStats stats;
    SampleBatch b = decode_line_protocol(body, Precision::kMilliseconds, default_node, kBounds,
                                         problems, stats);
    for (const auto& id : b.identities)
      ids.emplace(id, static_cast<int64_t>(ids.size()) + 100);
  }
  std::map<std::string, int64_t> ids;
};

struct Decoded {
  std::vector<std::string> samples;  // "id=N|ts|value" or "new=metric/node|ts|value"
  std::vector<std::string> problems;
  LineProtocolStats stats;
};

Decoded decode(std::string_view body, const MapResolver& r, LineSeriesCache* cache,
               std::string_view default_node = "") {
  Problems problems;
  Decoded d;
  SampleBatch b = decode_line_protocol(body, Precision::kMilliseconds, default_node, kBounds,
                                       problems, d.stats, &r, cache);
  for (size_t i = 0; i < b.size(); ++i) {
    std::string who = b.series_index[i] == SampleBatch::kResolved
                          ? fmt::format("id={}", b.series_ids[i])
                          : fmt::format("new={}/{}", b.series[b.series_index[i]].metric,
                                        b.series[b.series_index[i]].node);
    d.samples.push_back(fmt::format("{}|{}|{}", who, b.ts_ms[i], b.values[i]));
  }
  for (const auto& p : problems.details)
    d.problems.push_back(p.dump());
  return d;
}

// Decodes with and without the cache; both must agree. Returns the cached decode.
Decoded same_either_way(std::string_view body, const MapResolver& r, LineSeriesCache& cache,
                        std::string_view default_node = "") {
  Decoded plain = decode(body, r, nullptr, default_node);
  Decoded cached = decode(body, r, &cache, default_node);
  EXPECT_EQ(cached.samples, plain.samples) << body;
  EXPECT_EQ(cached.problems, plain.problems) << body;
  EXPECT_EQ(cached.stats.string_fields_skipped, plain.stats.string_fields_skipped) << body;
  return cached;
}

std::string at(int64_t ms) {
  return std::to_string(ms);
}

// A registry and a cache; learn() stores a line's series and decodes it once through
// the cache, as a first write of that line does.
class LineCacheTest : public ::testing::Test {
 protected:
  void learn(const std::string& line, std::string_view default_node = "") {
    r.store(line, default_node);
    same_either_way(line, r, cache, default_node);
  }
  MapResolver r;
  LineSeriesCache cache{1 << 20};
};

TEST_F(LineCacheTest, KnownLinesAreResolvedFromTheCacheExactlyAsWithout) {
  const std::string body = "gpu,node=n1,type=a temp=71.5,util=93 " + at(kNow) +
                           "\n"
                           "gpu,node=n2,type=a temp=60,util=10 " +
                           at(kNow) + "\n";
  r.store(body);
  ASSERT_EQ(r.ids.size(), 4u);
  auto first = same_either_way(body, r, cache);  // fills
  EXPECT_EQ(first.stats.cached_lines, 0u);
  EXPECT_EQ(first.stats.uncached_lines, 2u);
  EXPECT_EQ(cache.lines(), 2u);
  auto second = same_either_way(body, r, cache);  // hits
  EXPECT_EQ(second.stats.cached_lines, 2u);
  EXPECT_EQ(second.stats.uncached_lines, 0u);
  ASSERT_EQ(second.samples.size(), 4u);
  EXPECT_TRUE(second.samples[0].starts_with("id=")) << second.samples[0];
  // Fields in another order, a subset, a string field and a duplicate key.
  for (const std::string line :
       {"gpu,node=n1,type=a util=1,temp=2 ", "gpu,node=n1,type=a temp=3 ",
        "gpu,node=n1,type=a name=\"x\",util=4 ", "gpu,node=n1,type=a util=5,util=6 "}) {
    auto d = same_either_way(line + at(kNow - 1000), r, cache);
    EXPECT_EQ(d.stats.cached_lines, 1u) << line;
  }
}

TEST_F(LineCacheTest, ANewFieldOnAKnownLineTakesTheLongWayAndIsLearnt) {
  learn("m,node=n a=1 " + at(kNow));
  // b is not stored yet: the sample of a is resolved, b is new, nothing more is cached.
  auto grown = same_either_way("m,node=n a=2,b=3 " + at(kNow), r, cache);
  EXPECT_EQ(grown.stats.cached_lines, 0u);
  ASSERT_EQ(grown.samples.size(), 2u);
  EXPECT_TRUE(grown.samples[1].starts_with("new=m.b/n")) << grown.samples[1];
  // Once b is stored, the line is learnt with both fields.
  learn("m,node=n a=2,b=3 " + at(kNow));
  auto hit = same_either_way("m,node=n b=4,a=5 " + at(kNow), r, cache);
  EXPECT_EQ(hit.stats.cached_lines, 1u);
}

TEST_F(LineCacheTest, BadLinesAreNeverCachedAndLateTimesStayProblems) {
  learn("m,node=n v=1 " + at(kNow));
  ASSERT_EQ(cache.lines(), 1u);
  // A cached line with a time out of bounds or a bad timestamp: the same problem.
  auto late = same_either_way("m,node=n v=1 " + at(kNow - 31LL * 86'400'000), r, cache);
  EXPECT_EQ(late.problems.size(), 1u);
  auto future = same_either_way("m,node=n v=1 " + at(kNow + 3'600'000), r, cache);
  EXPECT_EQ(future.problems.size(), 1u);
  // Lines with problems of their own are not remembered.
  for (const std::string& bad : std::vector<std::string>{
           "m v=1 ", "m,node=bad/node v=1 ", "m,node=n,node=o v=1 ",
           "m,node=n,k=" + std::string(kMaxLabelValueBytes + 1, 'x') + " v=1 "}) {
    auto d = same_either_way(bad + at(kNow), r, cache);
    EXPECT_EQ(d.problems.size(), 1u) << bad;
  }
  EXPECT_EQ(cache.lines(), 1u);
}

TEST_F(LineCacheTest, TheDefaultNodeIsPartOfTheKey) {
  const std::string line = "m v=1 " + at(kNow);
  r.store(line, "b");
  learn(line, "a");
  auto b = same_either_way(line, r, cache, "b");
  EXPECT_EQ(b.stats.cached_lines, 0u);
  auto a = same_either_way(line, r, cache, "a");
  EXPECT_EQ(a.stats.cached_lines, 1u);
  EXPECT_NE(a.samples, b.samples);
}

TEST(LineSeriesCache, ANewGenerationEmptiesIt) {
  LineSeriesCache cache(1 << 20);
  cache.use_generation(7);
  cache.remember("k", {{"f", 1}});
  EXPECT_NE(cache.find("k"), nullptr);
  cache.use_generation(7);
  EXPECT_NE(cache.find("k"), nullptr);
  cache.use_generation(8);
  EXPECT_EQ(cache.find("k"), nullptr);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(LineSeriesCache, StaysWithinItsBoundAndMergesFields) {
  LineSeriesCache cache(4096);
  cache.remember("k", {{"a", 1}});
  cache.remember("k", {{"b", 2}, {"a", 1}});
  ASSERT_NE(cache.find("k"), nullptr);
  EXPECT_EQ(*cache.find("k"), (LineSeriesCache::Fields{{"a", 1}, {"b", 2}}));
  for (int i = 0; i < 1000; ++i) {
    cache.remember("line-" + std::to_string(i), {{"f", i}});
    EXPECT_LE(cache.bytes(), 4096u);
  }
  EXPECT_GT(cache.resets(), 0u);
  EXPECT_NE(cache.find("line-999"), nullptr);
  // An entry bigger than the whole bound is not kept.
  cache.remember("huge", {{std::string(5000, 'x'), 1}});
  EXPECT_EQ(cache.find("huge"), nullptr);
  LineSeriesCache off(0);
  EXPECT_FALSE(off.enabled());
  off.remember("k", {{"a", 1}});
  EXPECT_EQ(off.find("k"), nullptr);
}

}  // namespace
}  // namespace metricsd::api
