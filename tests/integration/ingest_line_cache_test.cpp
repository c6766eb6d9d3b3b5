// The per-io-thread line cache (ingest.line_cache_mb): line-protocol lines seen before
// are resolved through it, and what is stored is exactly what a daemon without it
// stores. One io thread, so which writes hit is known.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ingest_support.hpp"

namespace metricsd::test {
namespace {

using nlohmann::json;

const std::string kHits = R"(metricsd_ingest_line_cache_lines_total{result="hit"})";
const std::string kMisses = R"(metricsd_ingest_line_cache_lines_total{result="miss"})";

class IngestLineCache : public IngestBase {
 protected:
  static void SetUpTestSuite() { start({"--threads", "1"}); }
  static void TearDownTestSuite() { stop(); }

  // Posts the body; returns the change in {hits, misses}.
  std::pair<double, double> write(const std::string& target, const std::string& body) {
    double h = scrape(port(), kHits), m = scrape(port(), kMisses);
    auto r = post_lp(target, body);
    EXPECT_EQ(r.status, 204) << r.body;
    return {scrape(port(), kHits) - h, scrape(port(), kMisses) - m};
  }
};

TEST_F(IngestLineCache, KnownLinesHitAndStoreTheSameSamples) {
  auto body = [&](int64_t s, int v) {
    return fmt::format(
        "gpu,node=lc-1,gpu=0 temp={1},util={2}i {0}\n"
        "gpu,gpu=1,node=lc-1 temp={1},util={2}i {0}\n"
        "gpu,node=lc-2,gpu=0 temp={1},util={2}i,state=\"ok\" {0}\n",
        s, v + 0.5, v);
  };
  const int64_t t0 = now_s_ - 60;
  // New series: looked up, created, not cached yet; then learnt; then hits.
  EXPECT_EQ(write("/api/v1/write?precision=s", body(t0, 1)), std::make_pair(0.0, 3.0));
  EXPECT_EQ(write("/api/v1/write?precision=s", body(t0 + 1, 2)), std::make_pair(0.0, 3.0));
  EXPECT_EQ(write("/api/v1/write?precision=s", body(t0 + 2, 3)), std::make_pair(3.0, 0.0));
  EXPECT_EQ(write("/api/v1/write?precision=s", body(t0 + 3, 4)), std::make_pair(3.0, 0.0));
  std::vector<std::string> want;
  for (int k = 0; k < 4; ++k) {
    int64_t ms = (t0 + k) * 1000;
    for (const char* gpu : {"0", "1"}) {
      want.push_back(row("gpu.temp", "lc-1", {{"gpu", gpu}}, k + 1.5, ms));
      want.push_back(row("gpu.util", "lc-1", {{"gpu", gpu}}, k + 1, ms));
    }
  }
  EXPECT_EQ(db().samples("lc-1"), sorted(want));
  EXPECT_EQ(db().count("SELECT count(*) FROM series WHERE node_id = 'lc-2'"), 2);
  EXPECT_EQ(db().stored("lc-2"), 8);

  // A field the cached line does not have: the long way (its series is created), then
  // the line is learnt with it.
  const int64_t t1 = t0 + 10;
  auto grown = [&](int64_t s) { return fmt::format("gpu,node=lc-2,gpu=0 fan=3,temp=9 {}\n", s); };
  EXPECT_EQ(write("/api/v1/write?precision=s", grown(t1)), std::make_pair(0.0, 1.0));
  EXPECT_EQ(write("/api/v1/write?precision=s", grown(t1 + 1)), std::make_pair(0.0, 1.0));
  EXPECT_EQ(write("/api/v1/write?precision=s", grown(t1 + 2)), std::make_pair(1.0, 0.0));
  EXPECT_EQ(db().count("SELECT count(*) FROM series WHERE node_id = 'lc-2'"), 3);
  EXPECT_EQ(db().stored("lc-2"), 8 + 6);
}

TEST_F(IngestLineCache, TheSameLineUnderAnotherDefaultNodeIsAnotherSeries) {
  const int64_t t = now_s_ - 30;
  for (int round = 0; round < 3; ++round)
    for (const char* node : {"lcd-a", "lcd-b"})
      write(fmt::format("/api/v1/write?precision=s&node={}", node),
            fmt::format("mem used={}i {}\n", round, t + round));
  for (const char* node : {"lcd-a", "lcd-b"})
    EXPECT_EQ(db().samples(node),
              (std::vector<std::string>{row("mem.used", node, json::object(), 0, t * 1000),
                                        row("mem.used", node, json::object(), 1, (t + 1) * 1000),
                                        row("mem.used", node, json::object(), 2, (t + 2) * 1000)}));
}

TEST_F(IngestLineCache, ABadTimeOnACachedLineStillFailsTheRequestNamingIt) {
  const int64_t t = now_s_ - 30;
  const std::string line = "disk,node=lc-bad,dev=sda used=1i ";
  for (int k = 0; k < 3; ++k)
    write("/api/v1/write?precision=s", line + std::to_string(t + k) + "\n");
  double hits = scrape(port(), kHits);
  auto r = post_lp("/api/v1/write?precision=s", line + std::to_string(t + 3) + "\n" + line +
                                                    std::to_string(now_s_ + 3600) + "\n");
  expect_error(r, 400, "invalid_argument");
  EXPECT_EQ(detail_places(r), std::vector<std::string>{"line 2"});
  EXPECT_NE(r.body.find("in the future"), std::string::npos) << r.body;
  EXPECT_EQ(scrape(port(), kHits), hits + 2);
  EXPECT_EQ(db().stored("lc-bad"), 3);
}

}  // namespace
}  // namespace metricsd::test
