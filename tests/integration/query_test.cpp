// The read side against a real daemon: exact bucket maths on known data across bucket
// edges, the same answer from raw samples, 1-minute and 1-hour rollups and the head,
// latest values, series paging, CSV, and every error.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/clock.hpp"
#include "core/compaction.hpp"
#include "core/time_parse.hpp"
#include "harness.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class QueryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    daemon_ = new Daemon(dir_->path(), {"--ingest-compaction-interval-ms", "200ms"});
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
    // Two hours back, hour-aligned: 240 samples 30 s apart, value i, on two GPUs.
    base_ = floor_to(wall_ms() - 3 * kHourMs, kHourMs);
    std::string lines;
    for (int i = 0; i < 240; ++i)
      for (int g = 0; g < 2; ++g)
        lines +=
            fmt::format("gpu,node=q1,gpu={} temp_c={} {}\n", g, i + 1000 * g, base_ + i * 30'000);
    auto r = http_request(daemon_->port(), "POST", "/api/v1/write?precision=ms", lines);
    ASSERT_EQ(r.status, 204) << r.body;
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete dir_;
  }
  static json get(const std::string& target, int status = 200) {
    auto r = http_request(daemon_->port(), "GET", target);
    EXPECT_EQ(r.status, status) << target << " " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  static std::string q(int64_t from, int64_t to, const std::string& rest) {
    return fmt::format("/api/v1/query?metric=gpu.temp_c&from={}&to={}&{}", from / 1000.0,
                       to / 1000.0, rest);
  }
  static TempDir* dir_;
  static Daemon* daemon_;
  static int64_t base_;
};
TempDir* QueryTest::dir_ = nullptr;
Daemon* QueryTest::daemon_ = nullptr;
int64_t QueryTest::base_ = 0;

// Values 0..239 at 30 s: the 10-minute bucket k holds 20k .. 20k+19.
TEST_F(QueryTest, BucketsAreExactAndAlignedToTheEpoch) {
  auto j = get(q(base_, base_ + 2 * kHourMs, "label=gpu:0&step=10m&agg=sum"));
  ASSERT_EQ(j["series"].size(), 1u);
  const auto& pts = j["series"][0]["points"];
  ASSERT_EQ(pts.size(), 12u);
  for (int k = 0; k < 12; ++k) {
    EXPECT_EQ(pts[k][0].get<int64_t>(), base_ + k * 600'000);
    EXPECT_EQ(pts[k][1].get<double>(), 20 * (20 * k) + 190);  // sum of 20k .. 20k+19
  }
  EXPECT_EQ(j["step_ms"], 600'000);
  // A range starting mid-bucket: the first bucket only holds what is inside [from, to).
  auto part = get(q(base_ + 5 * 60'000, base_ + 20 * 60'000, "label=gpu:0&step=10m&agg=count"));
  const auto& p2 = part["series"][0]["points"];
  ASSERT_EQ(p2.size(), 2u);
  EXPECT_EQ(p2[0][0].get<int64_t>(), base_);
  EXPECT_EQ(p2[0][1].get<double>(), 10);  // minutes 5..9: 10 samples
  EXPECT_EQ(p2[1][1].get<double>(), 20);
}

TEST_F(QueryTest, EveryAggregate) {
  std::string range = "label=gpu:1&step=1h&agg=";
  auto v = [&](const std::string& agg) {
    return get(q(base_, base_ + kHourMs, range + agg))["series"][0]["points"][0][1].get<double>();
  };
  // Hour 0 of gpu 1: values 1000 .. 1119.
  EXPECT_EQ(v("count"), 120);
  EXPECT_EQ(v("sum"), 120 * 1000 + 119 * 120 / 2);
  EXPECT_EQ(v("avg"), 1059.5);
  EXPECT_EQ(v("min"), 1000);
  EXPECT_EQ(v("max"), 1119);
  EXPECT_EQ(v("last"), 1119);
}

TEST_F(QueryTest, SameAnswerFromHeadRawAndRollups) {
  // Before compaction the head answers; after it chunks and rollups do. Ranges that are
  // minute- and hour-aligned read the rollups; an off-by-one-second range reads raw chunks.
  auto ask = [&](int64_t from_shift) {
    return get(q(base_ + from_shift, base_ + 2 * kHourMs, "step=1h&agg=avg"))["series"];
  };
  json head_answer = ask(0);
  // Wait for the compaction (settle time plus a pass).
  ASSERT_TRUE(eventually(
      [&] { return metric_value(daemon_->port(), "metricsd_compaction_samples_total", 0) >= 480; },
      20s));
  EXPECT_EQ(ask(0), head_answer);  // rollup_1h
  auto minute = get(q(base_, base_ + 2 * kHourMs, "step=10m&agg=max"))["series"];
  // 1-minute rollups with raw chunks for the unaligned first second.
  auto ends = get(q(base_ + 1, base_ + 2 * kHourMs, "step=10m&agg=max"))["series"];
  EXPECT_EQ(minute, ends);  // the sample at base_ is 0 (gpu 0) / 1000 (gpu 1): not a max
  // 30 s steps: raw chunks only, one sample per bucket.
  auto raw = get(q(base_, base_ + 2 * kHourMs, "step=30s&agg=max"))["series"];
  ASSERT_EQ(raw.size(), 2u);
  EXPECT_EQ(raw[0]["points"].size(), 240u);
  EXPECT_EQ(raw[0]["points"][239][1].get<double>() + raw[1]["points"][239][1].get<double>(),
            239 + 1239);
  auto m = http_request(daemon_->port(), "GET", "/metrics").body;
  EXPECT_NE(m.find("metricsd_query_tier_total{tier=\"raw\"}"), std::string::npos);
  EXPECT_NE(m.find("metricsd_query_tier_total{tier=\"rollup_1h\"}"), std::string::npos);
  EXPECT_NE(m.find("metricsd_query_tier_total{tier=\"rollup_1m\"}"), std::string::npos);
}

// A range whose ends are not whole minutes (from=-24h style): 1-minute rollups inside,
// raw chunks at the ends, and each end counts only what lies in [from, to).
TEST_F(QueryTest, UnalignedEndsReadRawChunksAroundRollups) {
  ASSERT_TRUE(eventually(
      [&] { return metric_value(daemon_->port(), "metricsd_compaction_samples_total", 0) >= 480; },
      20s));
  const std::string minute_tier = R"(metricsd_query_tier_total{tier="rollup_1m"})";
  double before = metric_value(daemon_->port(), minute_tier, 0);
  auto j = get(q(base_ + 45'000, base_ + 2 * kHourMs - 15'000, "label=gpu:0&step=10m&agg=count"));
  EXPECT_EQ(metric_value(daemon_->port(), minute_tier, 0), before + 1);
  const auto& pts = j["series"][0]["points"];
  ASSERT_EQ(pts.size(), 12u);
  EXPECT_EQ(pts[0][1].get<double>(), 18);  // 0 s and 30 s are before `from`
  for (int k = 1; k < 12; ++k)
    EXPECT_EQ(pts[k][1].get<double>(), 20) << k;  // 119.5 min is before `to` (119.75)
  auto sums = get(q(base_ + 45'000, base_ + 2 * kHourMs - 45'000, "label=gpu:0&step=1h&agg=sum"));
  const auto& s = sums["series"][0]["points"];
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0][1].get<double>(), 119 * 120 / 2 - 1);      // 2 .. 119
  EXPECT_EQ(s[1][1].get<double>(), (120 + 238) * 119 / 2);  // 120 .. 238
  // Several minutes across: the same counts whatever the ends' seconds.
  for (int64_t shift : {1, 59'999, 60'001}) {
    auto a = get(q(base_ + shift, base_ + 2 * kHourMs - shift, "label=gpu:1&step=1m&agg=count"));
    double n = 0;
    for (const auto& p : a["series"][0]["points"])
      n += p[1].get<double>();
    int inside = 0;  // samples at i * 30 s in [shift, 2 h - shift)
    for (int64_t i = 0; i < 240; ++i)
      inside += i * 30'000 >= shift && i * 30'000 < 2 * kHourMs - shift;
    EXPECT_EQ(n, inside) << "shift " << shift;
  }
}

TEST_F(QueryTest, MaxPointsPicksARoundStep) {
  auto j = get(q(base_, base_ + 2 * kHourMs, "max_points=10"));
  EXPECT_EQ(j["step_ms"], 900'000);  // 2 h / 10 = 12 min -> 15 min
  EXPECT_EQ(j["series"].size(), 2u);
}

TEST_F(QueryTest, CsvExport) {
  auto r = http_request(daemon_->port(), "GET",
                        q(base_, base_ + kHourMs, "label=gpu:0&step=1h&agg=count&format=csv"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/csv; charset=utf-8");
  EXPECT_EQ(r.body, "time,node,labels,value\n" + format_rfc3339_ms(base_) +
                        ",q1,\"{\"\"gpu\"\":\"\"0\"\"}\",120\n");
  auto a = http_request(daemon_->port(), "GET", q(base_, base_ + kHourMs, "label=gpu:0&step=1h"),
                        "", {{"Accept", "text/csv"}});
  EXPECT_EQ(a.body.substr(0, 23), "time,node,labels,value\n");
}

TEST_F(QueryTest, LatestAndSeries) {
  auto l = get("/api/v1/latest?metric=gpu.temp_c&label=gpu:1");
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0]["value"], 1239);
  EXPECT_EQ(l[0]["ts"], base_ + 239 * 30'000);
  EXPECT_EQ(l[0], json::parse(R"({"metric":"gpu.temp_c","node":"q1","labels":{"gpu":"1"},"ts":)" +
                              std::to_string(base_ + 239 * 30'000) + R"(,"value":1239})"));
  EXPECT_EQ(get("/api/v1/latest?category=gpu").size(), 2u);
  auto cat = get("/api/v1/metrics/gpu");
  EXPECT_EQ(cat["category"], "gpu");
  ASSERT_EQ(cat["metrics"].size(), 2u);
  EXPECT_EQ(cat["metrics"][1]["value"].get<double>() + cat["metrics"][0]["value"].get<double>(),
            239 + 1239);
  EXPECT_EQ(get("/api/v1/metrics/nothing_here")["metrics"], json::array());
  EXPECT_EQ(get("/api/v1/latest?node=no-such-node"), json::array());
  auto page1 = get("/api/v1/series?match=gpu.*&limit=1");
  ASSERT_EQ(page1["series"].size(), 1u);
  auto page2 =
      get("/api/v1/series?match=gpu.*&limit=1&cursor=" + page1["next_cursor"].get<std::string>());
  ASSERT_EQ(page2["series"].size(), 1u);
  EXPECT_NE(page1["series"][0]["labels"], page2["series"][0]["labels"]);
  EXPECT_TRUE(get("/api/v1/series?match=cpu.*")["series"].empty());
  auto h = get("/api/v1/metrics/history/gpu/7d?max_points=7");
  EXPECT_EQ(h["series"].size(), 2u);
}

TEST_F(QueryTest, ErrorsSayWhatToFix) {
  struct Case {
    std::string target;
    int status;
    std::string field;
  };
  std::vector<Case> cases = {
      {"/api/v1/query", 400, "metric"},
      {"/api/v1/query?metric=9x", 400, "metric"},
      {"/api/v1/query?metric=gpu.temp_c&from=now&to=-1h", 400, "from"},
      {"/api/v1/query?metric=gpu.temp_c&from=yesterday", 400, "from"},
      {"/api/v1/query?metric=gpu.temp_c&agg=median", 400, "agg"},
      {"/api/v1/query?metric=gpu.temp_c&from=-30d&step=1s", 400, "step"},
      {"/api/v1/query?metric=gpu.temp_c&step=1m&max_points=5", 400, "step"},
      {"/api/v1/query?metric=gpu.temp_c&max_points=0", 400, "max_points"},
      {"/api/v1/query?metric=gpu.temp_c&label=nocolon", 400, "label"},
      {"/api/v1/query?metric=gpu.temp_c&colour=red", 400, "colour"},
      {"/api/v1/query?metric=gpu.temp_c&format=xml", 400, "format"},
      {"/api/v1/latest", 400, "metric"},
      {"/api/v1/series?limit=5000", 400, "limit"},
      {"/api/v1/metrics/history/gpu/forever", 400, "timeframe"},
  };
  for (const auto& c : cases) {
    auto j = get(c.target, c.status);
    EXPECT_EQ(j["error"]["code"], "invalid_argument") << c.target;
    EXPECT_EQ(j["error"]["details"][0]["field"], c.field) << c.target;
  }
  auto nf = get("/api/v1/query?metric=gpu.temp_c&node=nobody", 404);
  EXPECT_EQ(nf["error"]["code"], "not_found");
}

}  // namespace
}  // namespace metricsd::test
