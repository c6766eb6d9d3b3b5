// The write endpoints end to end: JSON batches, line protocol (plain and gzip), heartbeats,
// cardinality limits and concurrent writers, each against a real daemon with its own
// embedded PostgreSQL. What was stored is read back from that PostgreSQL (the `metrics`
// view, `series`, `nodes`, `events`), so every test asserts the exact rows, not only the
// HTTP answer. Each test writes to nodes of its own, so tests of a suite do not see each
// other's samples. Times are relative to now: the store refuses samples older than the
// raw retention (7 d) or more than ingest.max_future_s (600 s) ahead.
#include <gtest/gtest.h>
#include <zlib.h>

#include <fmt/format.h>
#include <algorithm>
#include <atomic>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <regex>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace metricsd::test {
namespace {

using nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Whole seconds, UTC: "2026-11-24T10:00:00Z".
std::string rfc3339(int64_t unix_s) {
  time_t t = static_cast<time_t>(unix_s);
  tm parts{};
  gmtime_r(&t, &parts);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return buf;
}

// gzip (not zlib) framing, as curl --compressed and Telegraf's content_encoding send it.
std::string gzip(const std::string& in) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY),
            Z_OK);
  std::string out(deflateBound(&zs, static_cast<uLong>(in.size())) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// One stored sample as text, so a mismatch prints readably: "metric node {labels} value @ts".
// No labels may be written `{}` (which nlohmann reads as null).
std::string row(std::string_view metric, std::string_view node, const json& labels, double value) {
  return fmt::format("{} {} {} {}", metric, node, labels.is_null() ? "{}" : labels.dump(), value);
}
std::string row(std::string_view metric, std::string_view node, const json& labels, double value,
                int64_t ts_ms) {
  return fmt::format("{} @{}", row(metric, node, labels, value), ts_ms);
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// Reads the daemon's embedded PostgreSQL over its unix socket (tests run as root).
class Db {
 public:
  explicit Db(const std::filesystem::path& data_dir)
      : conn_("host=" + (data_dir / "run").string() + " port=5432 user=postgres dbname=metricsd") {}

  // Every stored sample of `node`, sorted; with_time=false leaves the time out.
  std::vector<std::string> samples(const std::string& node, bool with_time = true) {
    pqxx::nontransaction tx(conn_);
    std::vector<std::string> out;
    for (const auto& r : tx.exec_params(
             "SELECT metric, node, labels::text, value, "
             "round(extract(epoch FROM time) * 1000)::bigint FROM metrics WHERE node = $1",
             node)) {
      auto labels = json::parse(r[2].as<std::string>());
      auto metric = r[0].as<std::string>(), n = r[1].as<std::string>();
      out.push_back(with_time ? row(metric, n, labels, r[3].as<double>(), r[4].as<int64_t>())
                              : row(metric, n, labels, r[3].as<double>()));
    }
    return sorted(std::move(out));
  }
  std::vector<int64_t> times_ms(const std::string& node) {
    pqxx::nontransaction tx(conn_);
    std::vector<int64_t> out;
    for (const auto& r : tx.exec_params(
             "SELECT round(extract(epoch FROM time) * 1000)::bigint FROM metrics WHERE node = $1",
             node))
      out.push_back(r[0].as<int64_t>());
    return out;
  }
  int64_t count(const std::string& sql, const std::string& param = "") {
    pqxx::nontransaction tx(conn_);
    auto r = param.empty() ? tx.exec(sql) : tx.exec_params(sql, param);
    return r[0][0].as<int64_t>();
  }
  int64_t stored(const std::string& node) {
    return count("SELECT count(*) FROM metrics WHERE node = $1", node);
  }
  int64_t series(const std::string& node) {
    return count("SELECT count(*) FROM series WHERE node_id = $1", node);
  }
  pqxx::result query(const std::string& sql, const std::string& param) {
    pqxx::nontransaction tx(conn_);
    return tx.exec_params(sql, param);
  }

 private:
  pqxx::connection conn_;
};

void expect_error(const HttpResult& r, int status, const std::string& code) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  auto j = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.body;
  EXPECT_EQ(j["error"]["code"], code) << r.body;
  EXPECT_TRUE(j["error"]["message"].is_string());
  EXPECT_TRUE(j["error"]["details"].is_array());
}

// The `field` (or `line`) of each detail of a 400.
std::vector<std::string> detail_places(const HttpResult& r) {
  std::vector<std::string> out;
  auto j = json::parse(r.body, nullptr, false);
  if (!j.is_object()) return out;
  for (const auto& d : j["error"]["details"])
    out.push_back(d.contains("line") ? "line " + d["line"].dump() : d.value("field", "?"));
  return out;
}

std::string error_message(const HttpResult& r) {
  auto j = json::parse(r.body, nullptr, false);
  return j.is_object() ? j["error"].value("message", "") : "";
}

// The value of one series in the daemon's /metrics (0 when absent).
double scrape(int port, const std::string& series) {
  auto r = http_request(port, "GET", "/metrics");
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return 0;
}

// One daemon per suite; suites run one after another, so they share the slot.
class IngestBase : public ::testing::Test {
 protected:
  static void start(std::vector<std::string> args) {
    dir_ = std::make_unique<TempDir>();
    daemon_ = std::make_unique<Daemon>(dir_->path(), std::move(args));
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
  }
  static void stop() {
    daemon_.reset();  // before its data dir goes
    dir_.reset();
  }
  int port() const { return daemon_->port(); }
  Db& db() {
    if (!db_) db_ = std::make_unique<Db>(dir_->path());
    return *db_;
  }
  HttpResult post(const std::string& target, const std::string& body,
                  const Headers& headers = {{"Content-Type", "application/json"}}) {
    return http_request(port(), "POST", target, body, headers);
  }
  HttpResult post_lp(const std::string& target, const std::string& body, Headers headers = {}) {
    headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
    return http_request(port(), "POST", target, body, headers);
  }

  static inline std::unique_ptr<TempDir> dir_;
  static inline std::unique_ptr<Daemon> daemon_;
  std::unique_ptr<Db> db_;
  const int64_t now_s_ = wall_ms() / 1000;
};

// ---------------------------------------------------------------------------------------
// POST /api/v1/metrics

class IngestJson : public IngestBase {
 protected:
  static void SetUpTestSuite() { start({}); }
  static void TearDownTestSuite() { stop(); }
};

TEST_F(IngestJson, ApiExampleBodyIsStoredWithDefaults) {
  // The example of API.md, its times moved into the retention window.
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

// ---------------------------------------------------------------------------------------
// POST /api/v1/write and /write

class IngestLineProtocol : public IngestBase {
 protected:
  static void SetUpTestSuite() { start({}); }
  static void TearDownTestSuite() { stop(); }
};

TEST_F(IngestLineProtocol, ApiExampleLineBecomesTwoSamples) {
  int64_t ns = (now_s_ - 600) * 1'000'000'000;
  auto r =
      post_lp("/api/v1/write", fmt::format("gpu,node=gpu-07,gpu=0 temp_c=71.5,util=93i {}", ns));
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_TRUE(r.body.empty());
  int64_t ms = (now_s_ - 600) * 1000;
  EXPECT_EQ(db().samples("gpu-07"), sorted({row("gpu.temp_c", "gpu-07", {{"gpu", "0"}}, 71.5, ms),
                                            row("gpu.util", "gpu-07", {{"gpu", "0"}}, 93, ms)}));
}

TEST_F(IngestLineProtocol, WriteAliasTakesTheSameBody) {
  // The default precision is ns: seconds read as nanoseconds are in 1970.
  auto r = post_lp("/write", fmt::format("gpu,node=alias-07,gpu=1 temp_c=60 {}", now_s_));
  EXPECT_EQ(r.status, 400) << r.body;
  r = post_lp("/write?precision=s", fmt::format("gpu,node=alias-07,gpu=1 temp_c=60 {}", now_s_));
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_EQ(
      db().samples("alias-07"),
      std::vector<std::string>{row("gpu.temp_c", "alias-07", {{"gpu", "1"}}, 60, now_s_ * 1000)});
}

TEST_F(IngestLineProtocol, PrecisionScalesTimestamps) {
  int64_t ms = (now_s_ - 100) * 1000 + 123;
  struct Case {
    const char* precision;
    int64_t ts;
    int64_t stored_ms;
  };
  std::vector<Case> cases = {{"s", now_s_ - 100, (now_s_ - 100) * 1000},
                             {"ms", ms, ms},
                             {"us", ms * 1000 + 999, ms},
                             {"ns", ms * 1'000'000 + 999'999, ms},
                             {nullptr, ms * 1'000'000 + 1, ms}};
  std::vector<std::string> expected;
  for (const auto& c : cases) {
    std::string m = c.precision ? c.precision : "default";
    std::string target = c.precision ? std::string("/api/v1/write?precision=") + c.precision
                                     : std::string("/api/v1/write");
    auto r = post_lp(target, fmt::format("p,node=prec-1 {}=1 {}", m, c.ts));
    EXPECT_EQ(r.status, 204) << m << " " << r.body;
    expected.push_back(row("p." + m, "prec-1", json::object(), 1, c.stored_ms));
  }
  EXPECT_EQ(db().samples("prec-1"), sorted(expected));
}

TEST_F(IngestLineProtocol, MissingTimestampMeansServerTime) {
  int64_t before = wall_ms();
  auto r = post_lp("/api/v1/write", "cpu,node=nots-1 idle=99.5\ncpu,node=nots-1 user=0.5\n");
  int64_t after = wall_ms();
  ASSERT_EQ(r.status, 204) << r.body;
  EXPECT_EQ(db().samples("nots-1", false),
            sorted({row("cpu.idle", "nots-1", {}, 99.5), row("cpu.user", "nots-1", {}, 0.5)}));
  for (int64_t t : db().times_ms("nots-1")) {
    EXPECT_GE(t, before - 5);
    EXPECT_LE(t, after + 5);
  }
}

TEST_F(IngestLineProtocol, HostTagNamesTheNodeWhenNodeTagIsAbsent) {
  auto r = post_lp("/api/v1/write?precision=s",
                   fmt::format("cpu,cpu=cpu0,host=web-1 usage_idle=98.5 {0}\n"
                               "cpu,host=web-1,node=web-node usage_idle=97 {0}\n",
                               now_s_));
  ASSERT_EQ(r.status, 204) << r.body;
  int64_t t = now_s_ * 1000;
  EXPECT_EQ(db().samples("web-1"),
            std::vector<std::string>{row("cpu.usage_idle", "web-1", {{"cpu", "cpu0"}}, 98.5, t)});
  // With both, `node` names the node and `host` stays an ordinary label.
  EXPECT_EQ(db().samples("web-node"), std::vector<std::string>{row("cpu.usage_idle", "web-node",
                                                                   {{"host", "web-1"}}, 97, t)});
}

TEST_F(IngestLineProtocol, NodeQueryParameterIsTheDefault) {
  auto r = post_lp("/api/v1/write?precision=s&node=qnode-1",
                   fmt::format("mem used=5i {0}\nmem,node=qnode-2 used=6i {0}\n", now_s_));
  ASSERT_EQ(r.status, 204) << r.body;
  int64_t t = now_s_ * 1000;
  EXPECT_EQ(db().samples("qnode-1"),
            std::vector<std::string>{row("mem.used", "qnode-1", json::object(), 5, t)});
  EXPECT_EQ(db().samples("qnode-2"),
            std::vector<std::string>{row("mem.used", "qnode-2", json::object(), 6, t)});

  auto none = post_lp("/api/v1/write", "mem used=5i\n");
  expect_error(none, 400, "invalid_argument");
  EXPECT_EQ(detail_places(none), std::vector<std::string>{"line 1"});
  auto bad = post_lp("/api/v1/write?node=-x", "mem used=5i\n");
  expect_error(bad, 400, "invalid_argument");
  EXPECT_EQ(detail_places(bad), std::vector<std::string>{"node"});
}

TEST_F(IngestLineProtocol, StringFieldsAreSkippedAndCounted) {
  const std::string skipped = "metricsd_ingest_string_fields_skipped_total";
  double before = scrape(port(), skipped);
  auto r =
      post_lp("/api/v1/write?precision=s",
              fmt::format("svc,node=str-1 state=\"running\",pid=42i,note=\"a \\\"b\\\" c\" {0}\n"
                          "svc,node=str-1 only=\"text\" {0}\n",
                          now_s_));
  ASSERT_EQ(r.status, 204) << r.body;
  EXPECT_EQ(db().samples("str-1"),
            std::vector<std::string>{row("svc.pid", "str-1", json::object(), 42, now_s_ * 1000)});
  EXPECT_EQ(scrape(port(), skipped), before + 3);
}

TEST_F(IngestLineProtocol, BooleansAreStoredAsOneAndZero) {
  auto r =
      post_lp("/api/v1/write?precision=ms",
              fmt::format("flags,node=bool-1 a=true,b=f,c=TRUE,d=False,e=t {}", now_s_ * 1000));
  ASSERT_EQ(r.status, 204) << r.body;
  int64_t t = now_s_ * 1000;
  EXPECT_EQ(db().samples("bool-1"),
            sorted({row("flags.a", "bool-1", {}, 1, t), row("flags.b", "bool-1", {}, 0, t),
                    row("flags.c", "bool-1", {}, 1, t), row("flags.d", "bool-1", {}, 0, t),
                    row("flags.e", "bool-1", {}, 1, t)}));
}

TEST_F(IngestLineProtocol, ABadLineFailsTheWholeRequestNamingIt) {
  std::string body = fmt::format(
      "# a comment\n"
      "cpu,node=badline-1 idle=1 {0}\n"
      "cpu,node=badline-1 idle=oops {0}\n"
      "\n"
      "cpu,node=badline-1 idle=3 {0}\n"
      "cpu,node=badline-1 idle=4 {0} extra\n",
      now_s_);
  auto r = post_lp("/api/v1/write?precision=s", body);
  expect_error(r, 400, "invalid_argument");
  EXPECT_EQ(detail_places(r), (std::vector<std::string>{"line 3", "line 6"}));
  EXPECT_NE(error_message(r).find("nothing stored"), std::string::npos);
  EXPECT_EQ(db().stored("badline-1"), 0);
  EXPECT_EQ(db().series("badline-1"), 0);

  // A time outside the window is named by line too.
  r = post_lp("/api/v1/write?precision=s",
              fmt::format("cpu,node=badline-1 idle=1 {}\ncpu,node=badline-1 idle=1 {}\n",
                          now_s_ + 700, now_s_ - 8 * 86400));
  expect_error(r, 400, "invalid_argument");
  EXPECT_EQ(detail_places(r), (std::vector<std::string>{"line 1", "line 2"}));
  EXPECT_EQ(db().stored("badline-1"), 0);
}

TEST_F(IngestLineProtocol, GzipBodyIsInflated) {
  std::string body;
  for (int i = 0; i < 50; ++i)
    body += fmt::format("gz,node=gzip-1,core={} busy={} {}\n", i, i * 0.5, now_s_);
  auto r = post_lp("/api/v1/write?precision=s", gzip(body), {{"Content-Encoding", "gzip"}});
  ASSERT_EQ(r.status, 204) << r.body;
  std::vector<std::string> expected;
  for (int i = 0; i < 50; ++i)
    expected.push_back(
        row("gz.busy", "gzip-1", {{"core", std::to_string(i)}}, i * 0.5, now_s_ * 1000));
  EXPECT_EQ(db().samples("gzip-1"), sorted(expected));
}

TEST_F(IngestLineProtocol, CorruptGzipIs400) {
  std::string good = gzip(fmt::format("gz,node=gzip-2 v=1 {}\n", now_s_));
  std::string truncated = good.substr(0, good.size() / 2);
  std::string flipped = good;
  flipped[flipped.size() - 6] ^= 0x55;  // inside the CRC-32 trailer
  for (const auto& body : {std::string("definitely not gzip"), truncated, flipped}) {
    auto r = post_lp("/api/v1/write?precision=s", body, {{"Content-Encoding", "gzip"}});
    expect_error(r, 400, "invalid_argument");
    EXPECT_EQ(detail_places(r), std::vector<std::string>{"body"});
  }
  EXPECT_EQ(db().stored("gzip-2"), 0);
}

TEST_F(IngestLineProtocol, UnsupportedEncodingOrTypeIs415) {
  std::string body = fmt::format("x,node=enc-1 v=1 {}\n", now_s_);
  expect_error(post_lp("/api/v1/write?precision=s", body, {{"Content-Encoding", "br"}}), 415,
               "unsupported_media_type");
  expect_error(post("/api/v1/write?precision=s", body), 415, "unsupported_media_type");
  EXPECT_EQ(db().stored("enc-1"), 0);
  // No Content-Type at all is line protocol (curl --data-binary, InfluxDB clients).
  EXPECT_EQ(post("/api/v1/write?precision=s", body, {}).status, 204);
  EXPECT_EQ(db().stored("enc-1"), 1);
}

TEST_F(IngestLineProtocol, BadPrecisionIs400) {
  auto r = post_lp("/api/v1/write?precision=sec", fmt::format("x,node=prec-bad v=1 {}", now_s_));
  expect_error(r, 400, "invalid_argument");
  EXPECT_EQ(detail_places(r), std::vector<std::string>{"precision"});
  EXPECT_EQ(db().stored("prec-bad"), 0);
}

TEST_F(IngestLineProtocol, NamesOutsideTheRulesBecomeUnderscores) {
  auto r = post_lp("/api/v1/write?precision=s",
                   fmt::format("my\\ meas,node=san-1,tag-key=v,9t=w field/x=1,2nd=2 {}", now_s_));
  ASSERT_EQ(r.status, 204) << r.body;
  json labels = {{"tag_key", "v"}, {"_9t", "w"}};
  int64_t t = now_s_ * 1000;
  EXPECT_EQ(db().samples("san-1"), sorted({row("my_meas.field_x", "san-1", labels, 1, t),
                                           row("my_meas._2nd", "san-1", labels, 2, t)}));
}

TEST_F(IngestLineProtocol, TelegrafBatchGoesInUnchanged) {
  const std::string skipped = "metricsd_ingest_string_fields_skipped_total";
  double skipped0 = scrape(port(), skipped);
  int64_t ns = now_s_ * 1'000'000'000;
  // What Telegraf's inputs.cpu/mem/system/disk/net/docker write by default.
  std::string body = fmt::format(
      "cpu,cpu=cpu-total,host=tg-host usage_idle=97.5,usage_user=1.25,usage_system=0.75 {0}\n"
      "mem,host=tg-host active=1234567i,available_percent=61.5,used_percent=38.5 {0}\n"
      "system,host=tg-host load1=0.42,n_cpus=16i,n_users=2i {0}\n"
      "system,host=tg-host uptime_format=\"5 days,  3:04\" {0}\n"
      "disk,device=nvme0n1p2,fstype=ext4,host=tg-host,mode=rw,path=/ free=1.5e11,used_percent=42.1 "
      "{0}\n"
      "net,host=tg-host,interface=eth0 bytes_recv=123456789u,err_in=0i {0}\n"
      "docker_container_status,container_name=web,host=tg-host "
      "oomkilled=false,pid=1234i,container_id=\"abc123\" {0}\n",
      ns);
  auto r = post_lp("/write", body);
  ASSERT_EQ(r.status, 204) << r.body;
  int64_t t = now_s_ * 1000;
  json none = json::object();
  json cpu = {{"cpu", "cpu-total"}};
  json disk = {{"device", "nvme0n1p2"}, {"fstype", "ext4"}, {"mode", "rw"}, {"path", "/"}};
  json net = {{"interface", "eth0"}};
  json docker = {{"container_name", "web"}};
  EXPECT_EQ(db().samples("tg-host"),
            sorted({row("cpu.usage_idle", "tg-host", cpu, 97.5, t),
                    row("cpu.usage_user", "tg-host", cpu, 1.25, t),
                    row("cpu.usage_system", "tg-host", cpu, 0.75, t),
                    row("mem.active", "tg-host", none, 1234567, t),
                    row("mem.available_percent", "tg-host", none, 61.5, t),
                    row("mem.used_percent", "tg-host", none, 38.5, t),
                    row("system.load1", "tg-host", none, 0.42, t),
                    row("system.n_cpus", "tg-host", none, 16, t),
                    row("system.n_users", "tg-host", none, 2, t),
                    row("disk.free", "tg-host", disk, 1.5e11, t),
                    row("disk.used_percent", "tg-host", disk, 42.1, t),
                    row("net.bytes_recv", "tg-host", net, 123456789, t),
                    row("net.err_in", "tg-host", net, 0, t),
                    row("docker_container_status.oomkilled", "tg-host", docker, 0, t),
                    row("docker_container_status.pid", "tg-host", docker, 1234, t)}));
  EXPECT_EQ(scrape(port(), skipped), skipped0 + 2);
}

// ---------------------------------------------------------------------------------------
// POST /api/v1/nodes/{node_id}/heartbeat

class IngestHeartbeat : public IngestBase {
 protected:
  static void SetUpTestSuite() { start({}); }
  static void TearDownTestSuite() { stop(); }

  static constexpr const char* kExample = R"({"type": "generation", "hostname": "msi",
    "labels": {"site": "lab"}, "interval_s": 5,
    "state": {"mode": "gaming", "throttle": 0.5},
    "info": {"gpus": [{"name": "RTX 4090", "vram_mb": 24564}]},
    "metrics": {"system.cpu_util": 35.0, "gpu.temp_c": 74.0, "llm.tokens_per_s": 640.0}})";

  // The node's row: type, hostname, labels, state, info, interval_s, status.
  json node_row(const std::string& node) {
    auto r = db().query(
        "SELECT type, hostname, labels::text, state::text, info::text, interval_s, status, "
        "(extract(epoch FROM first_seen) * 1000)::bigint, "
        "(extract(epoch FROM last_seen) * 1000)::bigint FROM nodes WHERE node_id = $1",
        node);
    if (r.empty()) return nullptr;
    return {{"type", r[0][0].as<std::string>()},
            {"hostname", r[0][1].as<std::string>()},
            {"labels", json::parse(r[0][2].as<std::string>())},
            {"state", json::parse(r[0][3].as<std::string>())},
            {"info", json::parse(r[0][4].as<std::string>())},
            {"interval_s", r[0][5].is_null() ? json(nullptr) : json(r[0][5].as<double>())},
            {"status", r[0][6].as<std::string>()},
            {"first_seen_ms", r[0][7].as<int64_t>()},
            {"last_seen_ms", r[0][8].as<int64_t>()}};
  }
  std::vector<std::string> events(const std::string& node) {
    std::vector<std::string> out;
    for (const auto& r :
         db().query("SELECT type, data::text FROM events WHERE node_id = $1 ORDER BY id", node))
      out.push_back(r[0].as<std::string>() + " " + json::parse(r[1].as<std::string>()).dump());
    return out;
  }
};

TEST_F(IngestHeartbeat, ApiExampleRegistersTheNodeAndStoresItsMetrics) {
  int64_t before = wall_ms();
  auto r = post("/api/v1/nodes/msi-01/heartbeat", kExample);
  int64_t after = wall_ms();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  auto j = json::parse(r.body);
  EXPECT_EQ(j.size(), 2u) << r.body;
  EXPECT_EQ(j["commands"], json::array());
  ASSERT_TRUE(j["server_time"].is_string());
  std::string st = j["server_time"];
  std::smatch m;
  ASSERT_TRUE(std::regex_match(st, m, std::regex(R"((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z)")))
      << st;
  tm parts{};
  strptime(m[1].str().c_str(), "%Y-%m-%dT%H:%M:%S", &parts);
  int64_t server_ms = static_cast<int64_t>(timegm(&parts)) * 1000 + std::stoi(m[2].str());
  EXPECT_GE(server_ms, before - 5);
  EXPECT_LE(server_ms, after + 5);

  json n = node_row("msi-01");
  ASSERT_FALSE(n.is_null());
  EXPECT_EQ(n["type"], "generation");
  EXPECT_EQ(n["hostname"], "msi");
  EXPECT_EQ(n["labels"], json({{"site", "lab"}}));
  EXPECT_EQ(n["state"], json({{"mode", "gaming"}, {"throttle", 0.5}}));
  EXPECT_EQ(n["info"], json::parse(R"({"gpus": [{"name": "RTX 4090", "vram_mb": 24564}]})"));
  EXPECT_EQ(n["interval_s"], 5.0);
  EXPECT_EQ(n["status"], "online");
  EXPECT_GE(n["last_seen_ms"].get<int64_t>(), before - 1000);
  EXPECT_LE(n["last_seen_ms"].get<int64_t>(), after + 1000);

  EXPECT_EQ(db().samples("msi-01", false),
            sorted({row("gpu.temp_c", "msi-01", json::object(), 74),
                    row("llm.tokens_per_s", "msi-01", json::object(), 640),
                    row("system.cpu_util", "msi-01", json::object(), 35)}));
  for (int64_t t : db().times_ms("msi-01")) {
    EXPECT_GE(t, before - 5);
    EXPECT_LE(t, after + 5);
  }
  EXPECT_EQ(events("msi-01"),
            std::vector<std::string>{R"(node_registered {"from":"new","to":"online"})"});
}

TEST_F(IngestHeartbeat, LaterHeartbeatsUpdateWhatTheySendAndKeepTheRest) {
  ASSERT_EQ(post("/api/v1/nodes/msi-02/heartbeat", kExample).status, 200);
  json first = node_row("msi-02");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto r = post("/api/v1/nodes/msi-02/heartbeat", R"({"state": {"mode": "idle"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  r = post("/api/v1/nodes/msi-02/heartbeat", "", {});
  ASSERT_EQ(r.status, 200) << r.body;
  json n = node_row("msi-02");
  EXPECT_EQ(n["state"], json({{"mode", "idle"}}));
  for (const char* kept : {"type", "hostname", "labels", "info", "interval_s", "first_seen_ms"})
    EXPECT_EQ(n[kept], first[kept]) << kept;
  EXPECT_EQ(n["status"], "online");
  EXPECT_GT(n["last_seen_ms"].get<int64_t>(), first["last_seen_ms"].get<int64_t>());
  EXPECT_EQ(events("msi-02"),
            std::vector<std::string>{R"(node_registered {"from":"new","to":"online"})"});
  // Only the first heartbeat carried metrics.
  EXPECT_EQ(db().stored("msi-02"), 3);
}

TEST_F(IngestHeartbeat, NodeFirstSeenBySamplesIsRegisteredOnce) {
  ASSERT_EQ(post("/api/v1/metrics", R"({"node": "seen-1", "metrics": {"a": 1}})").status, 200);
  const std::vector<std::string> registered = {R"(node_registered {"from":"new","to":"online"})"};
  EXPECT_EQ(events("seen-1"), registered);
  ASSERT_EQ(post("/api/v1/nodes/seen-1/heartbeat", kExample).status, 200);
  ASSERT_EQ(post("/api/v1/nodes/seen-1/heartbeat", kExample).status, 200);
  EXPECT_EQ(events("seen-1"), registered);
  json n = node_row("seen-1");
  EXPECT_EQ(n["type"], "generation");
  EXPECT_EQ(n["status"], "online");
  EXPECT_EQ(db().stored("seen-1"), 7);
}

TEST_F(IngestHeartbeat, BadRequestsAre400Or415AndRegisterNothing) {
  auto r = post("/api/v1/nodes/-bad/heartbeat", kExample);
  expect_error(r, 400, "invalid_argument");
  EXPECT_EQ(detail_places(r), std::vector<std::string>{"node_id"});
  r = post("/api/v1/nodes/" + std::string(129, 'n') + "/heartbeat", kExample);
  expect_error(r, 400, "invalid_argument");

  struct Case {
    const char* body;
    std::vector<std::string> fields;
  };
  std::vector<Case> cases = {
      {R"({"type": "x", "colour": "red"})", {"colour"}},
      {R"({"interval_s": -5})", {"interval_s"}},
      {R"({"interval_s": 0})", {"interval_s"}},
      {R"({"interval_s": "5"})", {"interval_s"}},
      {R"({"labels": {"bad-key": "v"}})", {"labels.bad-key"}},
      {R"({"labels": {"k": 1}})", {"labels.k"}},
      {R"({"state": [1, 2]})", {"state"}},
      {R"({"hostname": 7})", {"hostname"}},
      {R"({"metrics": {"9bad": 1, "ok": "x"}})", {"metrics.9bad", "metrics.ok"}},
      {R"({"metrics": {"ok": 1e999}})", {"body"}},
      {R"([1])", {"body"}},
      {R"({"type": )", {"body"}},
  };
  for (const auto& c : cases) {
    r = post("/api/v1/nodes/hb-bad/heartbeat", c.body);
    expect_error(r, 400, "invalid_argument");
    EXPECT_EQ(detail_places(r), c.fields) << c.body;
  }
  expect_error(post("/api/v1/nodes/hb-bad/heartbeat", kExample, {{"Content-Type", "text/plain"}}),
               415, "unsupported_media_type");
  EXPECT_TRUE(node_row("hb-bad").is_null());
  EXPECT_EQ(db().stored("hb-bad"), 0);
  EXPECT_EQ(events("hb-bad"), std::vector<std::string>{});
}

// ---------------------------------------------------------------------------------------
// Limits: cardinality and body size, with a daemon configured small.

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
