// Ingest limits end to end: the series cardinality limits (per node and in total) and the
// body size limit (also for gzip bodies that inflate beyond it), with a daemon configured
// small. What was stored is read back from its embedded PostgreSQL.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ingest_support.hpp"

namespace metricsd::test {
namespace {

using nlohmann::json;

class IngestLimits : public IngestBase {
 protected:
  static void SetUpTestSuite() {
    start({"--limits-max-series", "50", "--limits-max-series-per-node", "20",
           "--http-max-body-bytes", "64KiB"});
  }
  static void TearDownTestSuite() { stop(); }

  // {"node": node, "metrics": {prefix0: 1, prefix1: 1, ...}} with n metrics from `first`.
  HttpResult write_series(const std::string& node, int first, int n) {
    json metrics = json::object();
    for (int i = first; i < first + n; ++i)
      metrics[fmt::format("s.m{:03}", i)] = i;
    return post("/api/v1/metrics", json({{"node", node}, {"metrics", metrics}}).dump());
  }
};

TEST_F(IngestLimits, SeriesPerNodeLimitRejectsTheWholeRequest) {
  const std::string limited = R"(metricsd_ingest_rejected_requests_total{reason="series_limit"})";
  double limited0 = scrape(port(), limited);
  auto r = write_series("card-a", 0, 21);
  expect_error(r, 400, "invalid_argument");
  EXPECT_NE(error_message(r).find("limits.max_series_per_node (20)"), std::string::npos) << r.body;
  EXPECT_EQ(detail_places(r), std::vector<std::string>{"series"});
  EXPECT_EQ(db().stored("card-a"), 0);
  EXPECT_EQ(db().series("card-a"), 0);

  r = write_series("card-a", 0, 20);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(db().series("card-a"), 20);
  // One known series and one new one: the new one is over the limit, so neither is stored.
  r = write_series("card-a", 19, 2);
  expect_error(r, 400, "invalid_argument");
  EXPECT_NE(error_message(r).find("limits.max_series_per_node"), std::string::npos) << r.body;
  EXPECT_EQ(db().stored("card-a"), 20);
  // Known series still take samples; other nodes have their own allowance.
  EXPECT_EQ(write_series("card-a", 0, 20).status, 200);
  EXPECT_EQ(db().stored("card-a"), 40);
  r = write_series("card-b", 0, 5);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(db().series("card-b"), 5);
  // Line protocol is limited the same way.
  std::string lp;
  for (int i = 0; i < 21; ++i)
    lp += fmt::format("lp,node=card-c f{}=1\n", i);
  r = post_lp("/api/v1/write", lp);
  expect_error(r, 400, "invalid_argument");
  EXPECT_NE(error_message(r).find("limits.max_series_per_node"), std::string::npos) << r.body;
  EXPECT_EQ(db().series("card-c"), 0);
  EXPECT_EQ(scrape(port(), limited), limited0 + 3);
}

TEST_F(IngestLimits, TotalSeriesLimitRejectsNewSeriesAnywhere) {
  int64_t have = db().count("SELECT count(*) FROM series");
  ASSERT_LE(have, 50);
  for (int node = 0; have < 50; ++node) {
    int n = static_cast<int>(std::min<int64_t>(20, 50 - have));
    auto r = write_series(fmt::format("fill-{}", node), 0, n);
    ASSERT_EQ(r.status, 200) << r.body;
    have += n;
  }
  EXPECT_EQ(db().count("SELECT count(*) FROM series"), 50);
  auto r = write_series("card-new", 0, 1);
  expect_error(r, 400, "invalid_argument");
  EXPECT_NE(error_message(r).find("limits.max_series (50)"), std::string::npos) << r.body;
  EXPECT_EQ(db().stored("card-new"), 0);
  EXPECT_EQ(db().count("SELECT count(*) FROM series"), 50);
  // Existing series still write.
  EXPECT_EQ(write_series("fill-0", 0, 1).status, 200);
}

TEST_F(IngestLimits, GzipInflatingBeyondMaxBodyIs413) {
  std::string body;
  while (body.size() < 70 * 1024)
    body += fmt::format("big,node=big-1 v=1 {}\n", now_s_ * 1'000'000'000);
  std::string packed = gzip(body);
  ASSERT_LT(packed.size(), 64u * 1024);
  auto r = post_lp("/api/v1/write", packed, {{"Content-Encoding", "gzip"}});
  expect_error(r, 413, "payload_too_large");
  EXPECT_NE(error_message(r).find("http.max_body_bytes"), std::string::npos) << r.body;
  // Uncompressed, the same body is refused by the transport.
  expect_error(post_lp("/api/v1/write", body), 413, "payload_too_large");
  EXPECT_EQ(db().stored("big-1"), 0);
  // A gzip body within the limit is fine (to a series that exists, should the store be full).
  auto ok =
      post_lp("/api/v1/write?node=fill-0", gzip("s m000=7\n"), {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(ok.status, 204) << ok.body;
}

}  // namespace
}  // namespace metricsd::test
