// POST /api/v1/metrics end to end: JSON batches (the API example, times, content types,
// invalid bodies, name rules, the time window), its counters in /metrics and concurrent
// writers, against a real daemon with its own embedded PostgreSQL. What was stored is read
// back from that PostgreSQL, so every test asserts the exact rows, not only the HTTP answer.
// Each test writes to nodes of its own, so tests of the suite do not see each other's
// samples. Times are relative to now: the store refuses samples older than the raw
// retention (7 d) or more than ingest.max_future_s (600 s) ahead.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <atomic>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "ingest_support.hpp"

namespace metricsd::test {
namespace {

using nlohmann::json;

class IngestJson : public IngestBase {
 protected:
  static void SetUpTestSuite() { start({}); }
  static void TearDownTestSuite() { stop(); }
};

TEST_F(IngestJson, ApiExampleBodyIsStoredWithDefaults) {
  // The example of docs/api.md, its times moved into the retention window.
  int64_t t0 = now_s_ - 3600, t1 = now_s_ - 1800;
  std::string body = fmt::format(R"({{"node": "gpu-07", "ts": "{}",
   "samples": [{{"metric": "gpu.temp_c", "value": 71.5, "labels": {{"gpu": "0"}}}},
               {{"metric": "llm.tokens_per_s", "value": 812.0, "ts": {}.25}}],
   "metrics": {{"system.cpu_util": 12.5, "system.mem_used_pct": 61.0}}}})",
                                 rfc3339(t0), t1);
  auto r = post("/api/v1/metrics", body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(json::parse(r.body), json({{"accepted", 4}}));
  EXPECT_EQ(db().samples("gpu-07"),
            sorted({row("gpu.temp_c", "gpu-07", {{"gpu", "0"}}, 71.5, t0 * 1000),
                    row("llm.tokens_per_s", "gpu-07", json::object(), 812, t1 * 1000 + 250),
                    row("system.cpu_util", "gpu-07", json::object(), 12.5, t0 * 1000),
                    row("system.mem_used_pct", "gpu-07", json::object(), 61, t0 * 1000)}));
  // Series carry their category (the part before the first '.').
  auto cats =
      db().query("SELECT category FROM series WHERE node_id = $1 ORDER BY metric", "gpu-07");
  ASSERT_EQ(cats.size(), 4u);
  EXPECT_EQ(cats[0][0].as<std::string>(), "gpu");
  EXPECT_EQ(cats[1][0].as<std::string>(), "llm");
  EXPECT_EQ(cats[2][0].as<std::string>(), "system");
}

TEST_F(IngestJson, MissingTsMeansServerTimeAndSampleNodeOverridesDefault) {
  int64_t before = wall_ms();
  auto r = post("/api/v1/metrics", R"({"node": "dflt-a", "samples": [
      {"metric": "m.one", "value": 1},
      {"metric": "m.two", "value": 2, "node": "dflt-b"}],
    "metrics": {"m.three": 3}})");
  int64_t after = wall_ms();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["accepted"], 3);
  EXPECT_EQ(db().samples("dflt-a", false), sorted({row("m.one", "dflt-a", json::object(), 1),
                                                   row("m.three", "dflt-a", json::object(), 3)}));
  EXPECT_EQ(db().samples("dflt-b", false), sorted({row("m.two", "dflt-b", json::object(), 2)}));
  for (const auto& node : {"dflt-a", "dflt-b"})
    for (int64_t t : db().times_ms(node)) {
      EXPECT_GE(t, before - 5);
      EXPECT_LE(t, after + 5);
    }
}

TEST_F(IngestJson, MetricsShorthandAlone) {
  auto r = post("/api/v1/metrics", fmt::format(R"({{"node": "short-1", "ts": {},
      "metrics": {{"system.load1": 0.5, "system.uptime_s": 86400}}}})",
                                               now_s_ - 60));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["accepted"], 2);
  int64_t t = (now_s_ - 60) * 1000;
  EXPECT_EQ(db().samples("short-1"),
            sorted({row("system.load1", "short-1", json::object(), 0.5, t),
                    row("system.uptime_s", "short-1", json::object(), 86400, t)}));
  // Without a node the shorthand has nobody to belong to.
  auto bad = post("/api/v1/metrics", R"({"metrics": {"system.load1": 0.5}})");
  expect_error(bad, 400, "invalid_argument");
  EXPECT_EQ(detail_places(bad), std::vector<std::string>{"node"});
}

TEST_F(IngestJson, TimesAsRfc3339AndUnixSeconds) {
  int64_t t = now_s_ - 7200;
  std::string body =
      fmt::format(R"({{"node": "times-1", "samples": [
      {{"metric": "t.rfc", "value": 1, "ts": "{}"}},
      {{"metric": "t.rfc_frac_offset", "value": 2, "ts": "{}"}},
      {{"metric": "t.unix", "value": 3, "ts": {}}},
      {{"metric": "t.unix_frac", "value": 4, "ts": {}.123}},
      {{"metric": "t.unix_frac_half", "value": 5, "ts": {}.5}}]}})",
                  rfc3339(t), rfc3339(t + 7200).substr(0, 19) + ".25+02:00", t, t, t);
  auto r = post("/api/v1/metrics", body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["accepted"], 5);
  EXPECT_EQ(db().samples("times-1"),
            sorted({row("t.rfc", "times-1", json::object(), 1, t * 1000),
                    row("t.rfc_frac_offset", "times-1", json::object(), 2, t * 1000 + 250),
                    row("t.unix", "times-1", json::object(), 3, t * 1000),
                    row("t.unix_frac", "times-1", json::object(), 4, t * 1000 + 123),
                    row("t.unix_frac_half", "times-1", json::object(), 5, t * 1000 + 500)}));
}

TEST_F(IngestJson, TextPlainIs415) {
  auto r = post("/api/v1/metrics", R"({"node":"ct-1","metrics":{"a":1}})",
                {{"Content-Type", "text/plain"}});
  expect_error(r, 415, "unsupported_media_type");
  EXPECT_EQ(db().stored("ct-1"), 0);
}

TEST_F(IngestJson, NoContentTypeIsAccepted) {
  auto r = post("/api/v1/metrics", R"({"node":"ct-2","metrics":{"a":1}})", {});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(db().samples("ct-2", false), std::vector<std::string>{row("a", "ct-2", {}, 1)});
  // Parameters on the media type are fine.
  r = post("/api/v1/metrics", R"({"node":"ct-2","metrics":{"b":2}})",
           {{"Content-Type", "application/json; charset=utf-8"}});
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(IngestJson, InvalidJsonIs400) {
  for (const char* body : {"{", "", "[1,2]", "{\"node\":\"bad-json\",\"metrics\":{\"a\":1}"}) {
    auto r = post("/api/v1/metrics", body);
    expect_error(r, 400, "invalid_argument");
    EXPECT_EQ(detail_places(r), std::vector<std::string>{"body"}) << body;
  }
  EXPECT_EQ(db().stored("bad-json"), 0);
}

TEST_F(IngestJson, ABadSampleRejectsTheWholeRequest) {
  auto r = post("/api/v1/metrics", R"({"node": "aon-1", "samples": [
      {"metric": "ok.a", "value": 1},
      {"metric": "ok.b", "value": "12"},
      {"metric": "ok.c", "value": 3},
      {"metric": "9bad", "value": 4},
      {"metric": "ok.e", "value": 5}]})");
  expect_error(r, 400, "invalid_argument");
  EXPECT_EQ(detail_places(r), (std::vector<std::string>{"samples[1].value", "samples[3].metric"}));
  EXPECT_NE(error_message(r).find("nothing stored"), std::string::npos) << r.body;
  EXPECT_NE(error_message(r).find("2 problems"), std::string::npos) << r.body;
  const json body = json::parse(r.body);  // the range-for below must not outlive it
  for (const auto& d : body["error"]["details"])
    EXPECT_FALSE(d.value("message", "").empty());
  EXPECT_EQ(db().stored("aon-1"), 0);
  EXPECT_EQ(db().series("aon-1"), 0);
}

TEST_F(IngestJson, InfiniteValuesAreRejected) {
  // JSON has no NaN/Inf; 1e999 overflows a double, which the JSON parser refuses (so the
  // body is named), and nothing is stored as inf.
  for (const char* v : {"1e999", "-1e999"}) {
    auto r = post("/api/v1/metrics",
                  fmt::format(R"({{"node":"inf-1","samples":[{{"metric":"x","value":{}}}]}})", v));
    expect_error(r, 400, "invalid_argument");
    EXPECT_EQ(detail_places(r), std::vector<std::string>{"body"}) << v;
    r = post("/api/v1/metrics", fmt::format(R"({{"node":"inf-1","metrics":{{"x":{}}}}})", v));
    expect_error(r, 400, "invalid_argument");
    EXPECT_EQ(detail_places(r), std::vector<std::string>{"body"}) << v;
  }
  for (const char* v : {"NaN", "Infinity", "null", "true"}) {
    auto r = post("/api/v1/metrics",
                  fmt::format(R"({{"node":"inf-1","samples":[{{"metric":"x","value":{}}}]}})", v));
    EXPECT_EQ(r.status, 400) << v << " " << r.body;
  }
  EXPECT_EQ(db().stored("inf-1"), 0);
  // The largest finite double is a value like any other.
  auto ok = post("/api/v1/metrics", R"({"node":"inf-1","metrics":{"x":1.7976931348623157e308}})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(db().samples("inf-1", false),
            std::vector<std::string>{row("x", "inf-1", {}, 1.7976931348623157e308)});
}

TEST_F(IngestJson, NameRulesAreEnforced) {
  json labels33 = json::object(), labels32 = json::object();
  for (int i = 0; i < 33; ++i)
    labels33["k" + std::to_string(i)] = "v";
  for (int i = 0; i < 32; ++i)
    labels32["k" + std::to_string(i)] = "v";
  struct Case {
    json sample;
    std::string field;
  };
  std::vector<Case> bad = {
      {{{"metric", "1abc"}, {"value", 1}}, "samples[0].metric"},
      {{{"metric", "has space"}, {"value", 1}}, "samples[0].metric"},
      {{{"metric", std::string(201, 'm')}, {"value", 1}}, "samples[0].metric"},
      {{{"metric", "ok"}, {"value", 1}, {"node", "-bad"}}, "samples[0].node"},
      {{{"metric", "ok"}, {"value", 1}, {"node", std::string(129, 'n')}}, "samples[0].node"},
      {{{"metric", "ok"}, {"value", 1}, {"labels", {{"bad-key", "v"}}}}, "samples[0].labels"},
      {{{"metric", "ok"}, {"value", 1}, {"labels", {{"9key", "v"}}}}, "samples[0].labels"},
      {{{"metric", "ok"}, {"value", 1}, {"labels", labels33}}, "samples[0].labels"},
      {{{"metric", "ok"}, {"value", 1}, {"labels", {{"k", std::string(1025, 'v')}}}},
       "samples[0].labels"},
      {{{"metric", "ok"}, {"value", 1}, {"labels", {{"k", 5}}}}, "samples[0].labels.k"},
      {{{"metric", "ok"}, {"value", 1}, {"colour", "red"}}, "samples[0].colour"},
      {{{"value", 1}}, "samples[0].metric"},
  };
  for (const auto& c : bad) {
    json body = {{"node", "names-1"}, {"samples", json::array({c.sample})}};
    auto r = post("/api/v1/metrics", body.dump());
    expect_error(r, 400, "invalid_argument");
    EXPECT_EQ(detail_places(r), std::vector<std::string>{c.field}) << c.sample.dump();
  }
  auto r = post("/api/v1/metrics", R"({"node": "-bad", "metrics": {"a": 1}})");
  expect_error(r, 400, "invalid_argument");
  EXPECT_EQ(detail_places(r).at(0), "node");
  EXPECT_EQ(db().stored("names-1"), 0);
  EXPECT_EQ(db().stored("-bad"), 0);

  // The limits themselves are allowed: 32 labels, a 1024-byte value, a 200-byte name.
  json good = {{"node", "names-1"},
               {"ts", now_s_},
               {"samples",
                {{{"metric", "many"}, {"value", 1}, {"labels", labels32}},
                 {{"metric", "long"}, {"value", 2}, {"labels", {{"k", std::string(1024, 'v')}}}},
                 {{"metric", std::string(200, 'm')}, {"value", 3}},
                 {{"metric", "_x.y:z-w"}, {"value", 4}, {"labels", {{"_k", "значение ✓"}}}}}}};
  r = post("/api/v1/metrics", good.dump());
  ASSERT_EQ(r.status, 200) << r.body;
  int64_t t = now_s_ * 1000;
  EXPECT_EQ(db().samples("names-1"),
            sorted({row("many", "names-1", labels32, 1, t),
                    row("long", "names-1", {{"k", std::string(1024, 'v')}}, 2, t),
                    row(std::string(200, 'm'), "names-1", json::object(), 3, t),
                    row("_x.y:z-w", "names-1", {{"_k", "значение ✓"}}, 4, t)}));
}

TEST_F(IngestJson, TimesOutsideTheWindowAreRejected) {
  struct Case {
    std::string ts;
    bool top_level;
  };
  std::vector<Case> bad = {{std::to_string(now_s_ + 700), false},
                           {"\"" + rfc3339(now_s_ + 700) + "\"", true},
                           {std::to_string(now_s_ - 8 * 86400), false},
                           {"\"" + rfc3339(now_s_ - 8 * 86400) + "\"", true},
                           {"\"yesterday\"", false},
                           {"\"2026-13-01T00:00:00Z\"", false}};
  for (const auto& c : bad) {
    std::string body =
        c.top_level
            ? fmt::format(R"({{"node":"win-1","ts":{},"metrics":{{"a":1}}}})", c.ts)
            : fmt::format(R"({{"node":"win-1","samples":[{{"metric":"a","value":1,"ts":{}}}]}})",
                          c.ts);
    auto r = post("/api/v1/metrics", body);
    expect_error(r, 400, "invalid_argument");
    EXPECT_EQ(detail_places(r), std::vector<std::string>{c.top_level ? "ts" : "samples[0].ts"})
        << c.ts;
  }
  EXPECT_EQ(db().stored("win-1"), 0);
  // Within the window: 5 minutes ahead and 6 days back.
  auto r = post("/api/v1/metrics",
                fmt::format(R"({{"node":"win-1","samples":[{{"metric":"a","value":1,"ts":{}}},
                                {{"metric":"a","value":2,"ts":{}}}]}})",
                            now_s_ + 300, now_s_ - 6 * 86400));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(db().samples("win-1"), sorted({row("a", "win-1", {}, 1, (now_s_ + 300) * 1000),
                                           row("a", "win-1", {}, 2, (now_s_ - 6 * 86400) * 1000)}));
}

TEST_F(IngestJson, CountersAndCommitHistogramInMetrics) {
  const std::string json_samples = R"(metricsd_ingest_samples_total{format="json"})";
  const std::string lp_samples = R"(metricsd_ingest_samples_total{format="line_protocol"})";
  const std::string invalid = R"(metricsd_ingest_rejected_requests_total{reason="invalid"})";
  const std::string commits = "metricsd_ingest_commit_duration_seconds_count";
  double json0 = scrape(port(), json_samples), lp0 = scrape(port(), lp_samples),
         inv0 = scrape(port(), invalid), commits0 = scrape(port(), commits);

  ASSERT_EQ(post("/api/v1/metrics", R"({"node":"prom-1","metrics":{"a":1,"b":2,"c":3}})").status,
            200);
  ASSERT_EQ(post_lp("/api/v1/write?node=prom-1", "lp a=1,b=2\n").status, 204);
  EXPECT_EQ(post("/api/v1/metrics", R"({"node":"prom-1","metrics":{"a":"x"}})").status, 400);
  EXPECT_EQ(post_lp("/api/v1/write?node=prom-1", "lp a=\n").status, 400);

  EXPECT_EQ(scrape(port(), json_samples), json0 + 3);
  EXPECT_EQ(scrape(port(), lp_samples), lp0 + 2);
  EXPECT_EQ(scrape(port(), invalid), inv0 + 2);
  EXPECT_GE(scrape(port(), commits), commits0 + 1);
  auto text = http_request(port(), "GET", "/metrics").body;
  EXPECT_NE(text.find("# TYPE metricsd_ingest_commit_duration_seconds histogram"),
            std::string::npos);
  EXPECT_NE(text.find("metricsd_ingest_commit_duration_seconds_bucket{le=\"+Inf\"}"),
            std::string::npos);
  EXPECT_NE(text.find("metricsd_ingest_commit_duration_seconds_sum"), std::string::npos);
  EXPECT_EQ(scrape(port(), "metricsd_ingest_commit_duration_seconds_bucket{le=\"+Inf\"}"),
            scrape(port(), commits));
}

TEST_F(IngestJson, ConcurrentWritersAreAllStoredExactlyOnce) {
  constexpr int kThreads = 8, kRequests = 50, kSamples = 100;
  const int64_t base_ms = (now_s_ - 3600) * 1000;
  std::atomic<int> ok{0};
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      try {
        for (int q = 0; q < kRequests; ++q) {
          json samples = json::array();
          for (int i = 0; i < kSamples; ++i) {
            int64_t value = t * 100000 + q * 100 + i;
            samples.push_back({{"metric", "conc.load"},
                               {"value", value},
                               {"labels", {{"slot", std::to_string(i % 10)}}},
                               {"ts", (base_ms + value) / 1000.0}});
          }
          json body = {{"node", "conc-1"}, {"samples", samples}};
          auto r = http_request(port(), "POST", "/api/v1/metrics", body.dump(),
                                {{"Content-Type", "application/json"}});
          if (r.status == 200 && json::parse(r.body)["accepted"] == kSamples)
            ++ok;
          else if (failures[t].empty())
            failures[t] = std::to_string(r.status) + " " + r.body;
        }
      } catch (const std::exception& e) {
        failures[t] = e.what();
      }
    });
  for (auto& th : threads)
    th.join();
  for (const auto& f : failures)
    EXPECT_TRUE(f.empty()) << f;
  EXPECT_EQ(ok.load(), kThreads * kRequests);
  auto r = db().query(
      "SELECT count(*), count(DISTINCT value), sum(value)::float8, "
      "count(DISTINCT (labels, value)), "
      "bool_and(round(extract(epoch FROM time) * 1000)::bigint - $1::bigint = value) "
      "FROM metrics WHERE node = 'conc-1'",
      std::to_string(base_ms));
  double expected_sum = 0;
  for (int t = 0; t < kThreads; ++t)
    for (int q = 0; q < kRequests; ++q)
      for (int i = 0; i < kSamples; ++i)
        expected_sum += t * 100000 + q * 100 + i;
  EXPECT_EQ(r[0][0].as<int64_t>(), 40000);
  EXPECT_EQ(r[0][1].as<int64_t>(), 40000);
  EXPECT_EQ(r[0][2].as<double>(), expected_sum);
  EXPECT_EQ(r[0][3].as<int64_t>(), 40000);
  EXPECT_TRUE(r[0][4].as<bool>()) << "every sample keeps its own time";
  EXPECT_EQ(db().series("conc-1"), 10);
}

}  // namespace
}  // namespace metricsd::test
