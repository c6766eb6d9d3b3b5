// The admin tools against a real daemon: POST /api/v1/admin/series/delete (dry runs count
// exactly; a deletion with or without a time range takes exactly the selected samples from
// every tier: inbox and head, sample blocks, 1-minute and 1-hour rollups (recomputed where
// the range cuts a bucket), latest values, the query cache; a deleted series can be written
// again; bad bodies, limits, roles, the audit log) and GET /api/v1/admin/cardinality
// (exact counts, top-N order, limits).
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <thread>

#include "core/clock.hpp"
#include "core/compaction.hpp"
#include "harness.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kDelete = "/api/v1/admin/series/delete";

// What a series holds: time -> value, the test's own account.
using Model = std::map<int64_t, double>;

class AdminSeriesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    daemon_ = new Daemon(dir_->path(), {"--ingest-compaction-interval-ms", "200ms"});
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete dir_;
  }
  static int port() { return daemon_->port(); }
  static pqxx::result sql(const std::string& text) {
    pqxx::connection c("host=" + dir_->path().string() +
                       "/run port=5432 user=postgres dbname=metricsd");
    pqxx::nontransaction tx(c);
    return tx.exec(text);
  }
  static void write(const std::string& lines) {
    auto r = http_request(port(), "POST", "/api/v1/write?precision=ms", lines);
    ASSERT_EQ(r.status, 204) << r.body;
  }
  static HttpResult post(const json& body, const std::string& token = "") {
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", "application/json"}};
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    return http_request(port(), "POST", kDelete, body.dump(), headers);
  }
  static json del(const json& body) {
    auto r = post(body);
    EXPECT_EQ(r.status, 200) << body.dump() << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  static json get(const std::string& target) {
    auto r = http_request(port(), "GET", target);
    EXPECT_EQ(r.status, 200) << target << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  // Waits until none of the node's samples before `before_ms` is in the inbox: they are in
  // sample and rollup blocks.
  static bool compacted(const std::string& node, int64_t before_ms) {
    return eventually(
        [&] {
          return sql(fmt::format("SELECT count(*) FROM inbox i, unnest(i.series_ids, i.ts_ms) "
                                 "u(sid, t) JOIN series s ON s.series_id = u.sid "
                                 "WHERE s.node_id = '{}' AND u.t < {}",
                                 node, before_ms))[0][0]
                     .as<int>() == 0;
        },
        60s);
  }
  // The points of the one series of metric/node/label over [from, to) at `step`.
  static json points(const std::string& metric, const std::string& node, const std::string& label,
                     int64_t from, int64_t to, const std::string& step, const std::string& agg) {
    auto j =
        get(fmt::format("/api/v1/query?metric={}&node={}&label={}&from={}&to={}&step={}&agg={}",
                        metric, node, label, from / 1000.0, to / 1000.0, step, agg));
    if (j["series"].empty()) return json::array();
    EXPECT_EQ(j["series"].size(), 1u);
    return j["series"][0]["points"];
  }
  // The sum of the points' values (of a count: the samples).
  static int64_t total(const json& pts) {
    int64_t n = 0;
    for (const auto& p : pts)
      n += p[1].get<int64_t>();
    return n;
  }
  // The model bucketed as the query does: [[bucket, agg], ...] of non-empty buckets.
  static json expected(const Model& m, int64_t from, int64_t to, int64_t step,
                       const std::string& agg) {
    std::map<int64_t, std::pair<double, double>> b;  // bucket -> (count, sum)
    for (const auto& [t, v] : m) {
      if (t < from || t >= to) continue;
      auto& [n, s] = b[floor_to(t, step)];
      n += 1;
      s += v;
    }
    json out = json::array();
    for (const auto& [t, ns] : b)
      out.push_back({t, agg == "count" ? ns.first : ns.second});
    return out;
  }
  static int64_t series_id(const std::string& metric, const std::string& node,
                           const std::string& labels_json) {
    auto r =
        sql(fmt::format("SELECT series_id FROM series WHERE metric = '{}' AND node_id = '{}' "
                        "AND labels = '{}'::jsonb",
                        metric, node, labels_json));
    return r.empty() ? 0 : r[0][0].as<int64_t>();
  }
  static double tier_reads(const std::string& tier) {
    return metric_value(port(), "metricsd_query_tier_total{tier=\"" + tier + "\"}", 0);
  }
  static TempDir* dir_;
  static Daemon* daemon_;
};
TempDir* AdminSeriesTest::dir_ = nullptr;
Daemon* AdminSeriesTest::daemon_ = nullptr;

// Two nodes, two GPUs, two metrics: hour-old samples (compacted into blocks and rollups)
// and recent ones (in the inbox and the head). Deleting one series without a range takes
// its every sample and its row; the rest stays exactly as it was.
TEST_F(AdminSeriesTest, WholeSeriesDeletionTakesEverySampleAndTheRowAndNothingElse) {
  const int64_t base = floor_to(wall_ms() - 4 * kHourMs, kHourMs), now = wall_ms();
  std::string lines;
  int old_samples = 0;
  for (const char* node : {"del-a", "del-b"})
    for (int gpu = 0; gpu < 2; ++gpu)
      for (int i = 0; i < 120; ++i) {
        lines += fmt::format("adm,node={},gpu={} temp={},power={} {}\n", node, gpu, i, 2 * i,
                             base + i * 60'000 + 7'000);
        ++old_samples;
      }
  write(lines);
  // Recent samples, in an inbox row of their own (a row is compacted once all its samples'
  // windows are closed): still in the inbox and the head.
  lines.clear();
  for (int i = 0; i < 5; ++i)
    lines += fmt::format("adm,node=del-a,gpu=0 temp={} {}\n", 500 + i, now - 30'000 + i * 1000);
  write(lines);
  ASSERT_TRUE(compacted("del-a", base + 3 * kHourMs));
  ASSERT_TRUE(compacted("del-b", base + 3 * kHourMs));
  const int64_t id = series_id("adm.temp", "del-a", R"({"gpu":"0"})");
  ASSERT_NE(id, 0);
  ASSERT_GT(sql(fmt::format("SELECT count(*) FROM sample_blocks WHERE series_id = {}", id))[0][0]
                .as<int>(),
            0)
      << "the old samples are in blocks";
  auto before_other = points("adm.temp", "del-a", "gpu:1", base, base + 3 * kHourMs, "1h", "sum");
  auto before_b = points("adm.power", "del-b", "gpu:0", base, base + 3 * kHourMs, "1m", "count");
  ASSERT_EQ(before_b.size(), 120u);

  const json selector = {{"metric", "adm.temp"}, {"node", "del-a"}, {"labels", {{"gpu", "0"}}}};
  json dry = del(selector);  // dry_run is the default
  EXPECT_EQ(dry["dry_run"], true);
  EXPECT_EQ(dry["series"], 1);
  EXPECT_EQ(dry["series_removed"], 1);
  EXPECT_EQ(dry["samples"], 125);
  EXPECT_GT(dry["bytes"].get<int64_t>(), 0);
  EXPECT_TRUE(dry["from"].is_null());
  EXPECT_EQ(total(points("adm.temp", "del-a", "gpu:0", base, now + 60'000, "1m", "count")), 125)
      << "a dry run changes nothing";

  json body = selector;
  body["dry_run"] = false;
  json done = del(body);
  EXPECT_EQ(done["dry_run"], false);
  EXPECT_EQ(done["samples"], 125);
  EXPECT_EQ(done["series_removed"], 1);
  EXPECT_EQ(done["bytes"], dry["bytes"]);
  EXPECT_EQ(done["rollup_buckets"], dry["rollup_buckets"]);

  // Gone from every tier and from the registry.
  for (const char* table : {"sample_blocks", "rollup_1m_blocks", "rollup_1h_blocks", "series"})
    EXPECT_EQ(
        sql(fmt::format("SELECT count(*) FROM {} WHERE series_id = {}", table, id))[0][0].as<int>(),
        0)
        << table;
  EXPECT_EQ(
      sql(fmt::format("SELECT count(*) FROM inbox WHERE {} = ANY(series_ids)", id))[0][0].as<int>(),
      0);
  EXPECT_TRUE(points("adm.temp", "del-a", "gpu:0", base, now + 60'000, "1m", "count").empty());
  auto latest = get("/api/v1/latest?metric=adm.temp&node=del-a");
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_EQ(latest[0]["labels"]["gpu"], "1");
  // Everything else as before.
  EXPECT_EQ(points("adm.temp", "del-a", "gpu:1", base, base + 3 * kHourMs, "1h", "sum"),
            before_other);
  EXPECT_EQ(points("adm.power", "del-b", "gpu:0", base, base + 3 * kHourMs, "1m", "count"),
            before_b);
  EXPECT_EQ(sql("SELECT count(*) FROM metrics WHERE node IN ('del-a', 'del-b')")[0][0].as<int>(),
            2 * old_samples - 120);

  // Audited, with the selector and the counts.
  auto audit = get("/api/v1/audit?action=series.delete");
  ASSERT_FALSE(audit["entries"].empty());
  const auto& entry = audit["entries"][0];
  EXPECT_EQ(entry["outcome"], "ok");
  EXPECT_EQ(entry["target"], R"(metric=adm.temp node=del-a labels={"gpu":"0"})");
  EXPECT_EQ(entry["details"]["selector"], selector);
  EXPECT_EQ(entry["details"]["deleted"]["samples"], 125);
  EXPECT_EQ(entry["details"]["deleted"]["series_removed"], 1);

  // Written again, the series starts afresh under a new id, with only the new sample.
  write(fmt::format("adm,node=del-a,gpu=0 temp=77 {}\n", now));
  const int64_t again = series_id("adm.temp", "del-a", R"({"gpu":"0"})");
  EXPECT_NE(again, 0);
  EXPECT_NE(again, id);
  auto fresh = points("adm.temp", "del-a", "gpu:0", base, now + 60'000, "1m", "sum");
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(fresh[0][1], 77);
}

// A range that cuts a minute and an hour at its start and ends on the hour: exactly the
// samples in it go; the cut buckets of both rollup tiers are recomputed from what is left;
// raw, 1-minute and 1-hour reads all agree with the model; a latest value inside the range
// falls back to the newest stored sample before it.
TEST_F(AdminSeriesTest, RangeDeletionTakesExactlyTheRangeFromEveryTier) {
  const int64_t base = floor_to(wall_ms() - 5 * kHourMs, kHourMs), now = wall_ms();
  Model cut, whole_gpu1, untouched;
  std::string lines;
  for (int i = 0; i < 180; ++i) {
    const int64_t t = base + i * 60'000 + 15'000;
    cut[t] = i;
    untouched[t] = i;
    lines += fmt::format("rng,node=del-r,gpu=0 v={} {}\n", i, t);
    lines += fmt::format("rng,node=del-r,gpu=9 v={} {}\n", i, t);  // not selected
  }
  cut[base + 30 * 60'000 + 45'000] = 1000;  // a second sample in minute 30
  lines += fmt::format("rng,node=del-r,gpu=0 v=1000 {}\n", base + 30 * 60'000 + 45'000);
  // gpu=1: old samples, and recent ones the range takes with the latest value.
  for (int i = 0; i < 60; ++i) {
    whole_gpu1[base + i * 60'000] = i;
    lines += fmt::format("rng,node=del-r,gpu=1 v={} {}\n", i, base + i * 60'000);
  }
  write(lines);
  lines.clear();  // in an inbox row of their own, as above
  for (int i = 0; i < 3; ++i)
    lines += fmt::format("rng,node=del-r,gpu=1 v={} {}\n", 900 + i, now - 20'000 + i * 1000);
  write(lines);
  ASSERT_TRUE(compacted("del-r", base + 4 * kHourMs));
  const int64_t end = base + 3 * kHourMs;
  // Warm the query cache with the 1-hour and 1-minute days the deletion changes.
  ASSERT_EQ(points("rng.v", "del-r", "gpu:0", base, end, "1h", "sum"),
            expected(cut, base, end, kHourMs, "sum"));
  ASSERT_EQ(points("rng.v", "del-r", "gpu:0", base, end, "1m", "count"),
            expected(cut, base, end, kMinuteMs, "count"));

  // [base + 30m30s, base + 2h): minute 30 and hour 0 are cut, hour 1 is inside.
  const int64_t from = base + 30 * 60'000 + 30'000, to = base + 2 * kHourMs;
  const json selector = {{"metric", "rng.v"},
                         {"node", "del-r"},
                         {"labels", {{"gpu", "0"}}},
                         {"from", from / 1000.0},
                         {"to", fmt::format("{}", to / 1000)}};
  int gone = 0;
  for (auto it = cut.begin(); it != cut.end();)
    if (it->first >= from && it->first < to) {
      it = cut.erase(it);
      ++gone;
    } else {
      ++it;
    }
  ASSERT_EQ(gone, 90);  // 1845 s, and minutes 31 .. 119
  json dry = del(selector);
  EXPECT_EQ(dry["samples"], gone);
  EXPECT_EQ(dry["series_removed"], 0);
  EXPECT_EQ(dry["from"], from);
  EXPECT_EQ(dry["to"], to);
  // Removed: minutes 31..119 (89) and hour 1; recomputed: minute 30 and hour 0.
  EXPECT_EQ(dry["rollup_buckets"]["recomputed"], 2);
  EXPECT_EQ(dry["rollup_buckets"]["removed"], 90);
  json body = selector;
  body["dry_run"] = false;
  json done = del(body);
  EXPECT_EQ(done["samples"], gone);
  EXPECT_EQ(done["rollup_buckets"], dry["rollup_buckets"]);

  const double raw = tier_reads("raw"), minute = tier_reads("rollup_1m"),
               hour = tier_reads("rollup_1h");
  EXPECT_EQ(points("rng.v", "del-r", "gpu:0", base, end, "30s", "sum"),
            expected(cut, base, end, 30'000, "sum"));
  for (const char* agg : {"count", "sum"}) {
    EXPECT_EQ(points("rng.v", "del-r", "gpu:0", base, end, "1m", agg),
              expected(cut, base, end, kMinuteMs, agg))
        << agg;
    EXPECT_EQ(points("rng.v", "del-r", "gpu:0", base, end, "1h", agg),
              expected(cut, base, end, kHourMs, agg))
        << agg;
  }
  EXPECT_GT(tier_reads("raw"), raw);
  EXPECT_GT(tier_reads("rollup_1m"), minute);
  EXPECT_GT(tier_reads("rollup_1h"), hour);
  // The hour cut at its start keeps minutes 0..30 (sum of 0..30): recomputed, not dropped.
  auto hours = points("rng.v", "del-r", "gpu:0", base, end, "1h", "sum");
  ASSERT_EQ(hours.size(), 2u);
  EXPECT_EQ(hours[0][1], 465);
  EXPECT_EQ(points("rng.v", "del-r", "gpu:9", base, end, "1h", "count"),
            expected(untouched, base, end, kHourMs, "count"))
      << "another series is untouched";
  EXPECT_NE(series_id("rng.v", "del-r", R"({"gpu":"0"})"), 0) << "a range keeps the series";

  // gpu=1 from an hour ago: its recent samples (head, latest) go, its latest value is now
  // the newest stored sample before the range.
  json recent = {{"metric", "rng.*"},
                 {"node", "del-r"},
                 {"labels", {{"gpu", "1"}}},
                 {"from", "-1h"},
                 {"dry_run", false}};
  json r = del(recent);
  EXPECT_EQ(r["samples"], 3);
  EXPECT_TRUE(r["to"].is_null());
  EXPECT_EQ(points("rng.v", "del-r", "gpu:1", base, now + 60'000, "1m", "count"),
            expected(whole_gpu1, base, now + 60'000, kMinuteMs, "count"));
  auto latest = get("/api/v1/latest?metric=rng.v&node=del-r&label=gpu:1");
  ASSERT_EQ(latest.size(), 1u);
  EXPECT_EQ(latest[0]["ts"], base + 59 * 60'000);
  EXPECT_EQ(latest[0]["value"], 59);
}

// A writer keeps writing the series while it is deleted without a range: every sample
// acknowledged after the deletion's answer is stored, and nothing of the old series is.
TEST_F(AdminSeriesTest, AConcurrentWriterEndsUpWholeBeforeOrAfter) {
  const int64_t start = wall_ms() - 60'000;
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; !stop && i < 100'000; ++i) {
      auto r = http_request(port(), "POST", "/api/v1/write?precision=ms",
                            fmt::format("race,node=del-w v={} {}\n", i, start + i));
      if (r.status == 204) written = i + 1;
    }
  });
  ASSERT_TRUE(eventually([&] { return written.load() >= 50; }, 30s));
  json body = {{"metric", "race.v"}, {"node", "del-w"}, {"dry_run", false}};
  json done = del(body);
  const int after_answer = written.load();
  ASSERT_TRUE(eventually([&] { return written.load() >= after_answer + 50; }, 30s));
  stop = true;
  writer.join();
  const int total = written.load();
  // The samples now stored are a suffix of what was written: those committed after the
  // deletion, at least every one sent after its answer.
  auto j = get(fmt::format("/api/v1/query?metric=race.v&node=del-w&from={}&to={}&step=1h&agg=count",
                           floor_to(start, kHourMs) / 1000, (start + kHourMs) / 1000));
  ASSERT_EQ(j["series"].size(), 1u);
  int64_t stored = 0;
  for (const auto& p : j["series"][0]["points"])
    stored += p[1].get<int64_t>();
  EXPECT_GE(stored, total - after_answer - 1);  // the write in flight then may be before
  EXPECT_LE(stored, total - 50);
  auto min = get(fmt::format("/api/v1/query?metric=race.v&node=del-w&from={}&to={}&step=1h&agg=min",
                             floor_to(start, kHourMs) / 1000, (start + kHourMs) / 1000));
  EXPECT_EQ(min["series"][0]["points"][0][1].get<int64_t>(), total - stored)
      << "what is stored is exactly the writes after the deletion";
  EXPECT_EQ(done["series_removed"], 1);
  EXPECT_EQ(sql("SELECT count(*) FROM series WHERE metric = 'race.v'")[0][0].as<int>(), 1);
  // No write that resolved the old series before it went stored a sample for it after.
  EXPECT_EQ(sql("SELECT count(*) FROM inbox i, unnest(i.series_ids) u(sid) "
                "WHERE NOT EXISTS (SELECT 1 FROM series s WHERE s.series_id = u.sid)")[0][0]
                .as<int>(),
            0);
}

TEST_F(AdminSeriesTest, BadBodiesAreRefusedNamingTheField) {
  write("bad,node=del-x,k=1 v=1\nbad,node=del-x,k=2 v=1\nbad,node=del-x,k=3 v=1\n");
  auto field = [](const HttpResult& r) {
    json j = json::parse(r.body, nullptr, false);
    if (!j.is_object() || !j.contains("error") || j["error"]["details"].empty()) return json();
    return j["error"]["details"][0]["field"];
  };
  struct Case {
    json body;
    std::string field;
  };
  std::vector<Case> cases = {
      {json::object(), "metric"},
      {{{"node", "del-x"}}, "metric"},
      {{{"metric", "1bad"}}, "metric"},
      {{{"metric", "bad.*x"}}, "metric"},
      {{{"metric", 5}}, "metric"},
      {{{"metric", "bad.v"}, {"node", "no/such"}}, "node"},
      {{{"metric", "bad.v"}, {"labels", "k=1"}}, "labels"},
      {{{"metric", "bad.v"}, {"labels", {{"k", 1}}}}, "labels.k"},
      {{{"metric", "bad.v"}, {"labels", {{"1k", "1"}}}}, "labels.1k"},
      {{{"metric", "bad.v"}, {"from", "yesterday"}}, "from"},
      {{{"metric", "bad.v"}, {"to", true}}, "to"},
      {{{"metric", "bad.v"}, {"from", 200}, {"to", 100}}, "from"},
      {{{"metric", "bad.v"}, {"from", "now"}, {"to", "now"}}, "from"},
      {{{"metric", "bad.v"}, {"dry_run", "no"}}, "dry_run"},
      {{{"metric", "bad.v"}, {"max_series", 0}}, "max_series"},
      {{{"metric", "bad.v"}, {"max_series", 100'001}}, "max_series"},
      {{{"metric", "bad.v"}, {"max_series", 1.5}}, "max_series"},
      {{{"metric", "bad.v"}, {"metrc", "x"}}, "metrc"},
      {{{"metric", "bad.v"}, {"max_series", 2}}, "max_series"},  // it matches 3
  };
  for (const auto& c : cases) {
    auto r = post(c.body);
    EXPECT_EQ(r.status, 400) << c.body.dump() << ": " << r.body;
    EXPECT_EQ(field(r), c.field) << c.body.dump() << ": " << r.body;
  }
  auto not_json =
      http_request(port(), "POST", kDelete, "{metric", {{"Content-Type", "application/json"}});
  EXPECT_EQ(not_json.status, 400);
  EXPECT_EQ(field(not_json), "body");
  // None of them deleted anything; within the limit the same selector counts all three.
  json ok = del({{"metric", "bad.v"}, {"max_series", 3}});
  EXPECT_EQ(ok["series"], 3);
  EXPECT_EQ(ok["samples"], 3);
  EXPECT_GE(
      metric_value(port(), "metricsd_admin_series_deletions_total{outcome=\"too_many_series\"}", 0),
      1);
}

TEST_F(AdminSeriesTest, OnlyAdminsMayUseTheTools) {
  for (std::string role : {"operator", "viewer", "agent"}) {
    auto t = http_request(port(), "POST", "/api/v1/tokens",
                          json{{"name", "adm-" + role}, {"role", role}}.dump(),
                          {{"Content-Type", "application/json"}});
    ASSERT_EQ(t.status, 201) << t.body;
    std::string token = json::parse(t.body)["token"];
    auto d = post({{"metric", "adm.temp"}, {"dry_run", false}}, token);
    EXPECT_EQ(d.status, 403) << role << ": " << d.body;
    auto c = http_request(port(), "GET", "/api/v1/admin/cardinality", "",
                          {{"Authorization", "Bearer " + token}});
    EXPECT_EQ(c.status, 403) << role << ": " << c.body;
  }
  auto anon = http_request(port(), "GET", "/api/v1/admin/cardinality", "", {{"Authorization", ""}});
  EXPECT_EQ(anon.status, 401);
}

// A daemon of its own, so the registry holds exactly what the test wrote.
TEST(AdminCardinality, CountsWhatWasWrittenLargestFirstWithinTheLimit) {
  TempDir dir;
  Daemon daemon(dir.path());
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  std::string lines;
  for (int n = 0; n < 5; ++n)  // card.a: 5 nodes x 2 GPUs
    for (int g = 0; g < 2; ++g)
      lines += fmt::format("card,node=c{},gpu={} a=1\n", n, g);
  for (int n = 0; n < 3; ++n)  // card.b: 3 series, no labels
    lines += fmt::format("card,node=c{} b=1\n", n);
  lines += "card,node=c0,gpu=7,mig=x c=1\n";  // card.c: 1 series, two labels
  auto w = http_request(daemon.port(), "POST", "/api/v1/write", lines);
  ASSERT_EQ(w.status, 204) << w.body;
  auto get = [&](const std::string& target, int status) {
    auto r = http_request(daemon.port(), "GET", target);
    EXPECT_EQ(r.status, status) << target << ": " << r.body;
    return json::parse(r.body, nullptr, false);
  };
  json j = get("/api/v1/admin/cardinality", 200);
  EXPECT_EQ(j["series"], 14);
  EXPECT_EQ(j["metrics"], 3);
  EXPECT_EQ(j["nodes"], 5);
  EXPECT_EQ(j["label_names"], 2);
  EXPECT_EQ(j["by_metric"], json::parse(R"([{"metric":"card.a","series":10},
      {"metric":"card.b","series":3},{"metric":"card.c","series":1}])"));
  EXPECT_EQ(j["by_node"][0], json::parse(R"({"node":"c0","series":4})"));
  EXPECT_EQ(j["by_node"].size(), 5u);
  EXPECT_EQ(j["labels"], json::parse(R"([{"label":"gpu","series":11,"values":3},
      {"label":"mig","series":1,"values":1}])"));
  EXPECT_EQ(j["growth"][0], json::parse(R"({"metric":"card.a","last_1h":10,"last_24h":10})"));
  EXPECT_EQ(j["growth"].size(), 3u);
  json one = get("/api/v1/admin/cardinality?limit=1", 200);
  EXPECT_EQ(one["by_metric"].size(), 1u);
  EXPECT_EQ(one["by_node"].size(), 1u);
  EXPECT_EQ(one["labels"].size(), 1u);
  EXPECT_EQ(one["growth"].size(), 1u);
  EXPECT_EQ(one["series"], 14);
  for (const char* bad : {"?limit=0", "?limit=1001", "?limit=x", "?top=3"})
    EXPECT_EQ(get(std::string("/api/v1/admin/cardinality") + bad, 400)["error"]["code"],
              "invalid_argument")
        << bad;
  // A deleted series leaves the counts at once.
  auto d = http_request(daemon.port(), "POST", kDelete, R"({"metric": "card.c", "dry_run": false})",
                        {{"Content-Type", "application/json"}});
  ASSERT_EQ(d.status, 200) << d.body;
  json after = get("/api/v1/admin/cardinality", 200);
  EXPECT_EQ(after["series"], 13);
  EXPECT_EQ(after["label_names"], 1);
  EXPECT_EQ(after["metrics"], 2);
}

}  // namespace
}  // namespace metricsd::test
