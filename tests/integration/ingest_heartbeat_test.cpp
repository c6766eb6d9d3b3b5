// POST /api/v1/nodes/{node_id}/heartbeat end to end: registration, what later heartbeats
// update, nodes first seen by samples, the events a node reports (listed, stored once
// across retries, counted), and bad requests, against a real daemon with its own embedded
// PostgreSQL. The node rows, events and samples are read back from that PostgreSQL. Each
// test uses nodes of its own.
#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "ingest_support.hpp"

namespace metricsd::test {
namespace {

using nlohmann::json;

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

// A heartbeat carrying the XID error of the API docs, and another event without data; the
// events listing returns them with their data objects, newest first.
TEST_F(IngestHeartbeat, ReportedEventsAreListedWithTheirData) {
  const std::string t1 = rfc3339(now_s_ - 30).substr(0, 19) + ".250Z";
  const std::string t2 = rfc3339(now_s_ - 20);
  json body = {
      {"metrics", {{"gpu.temp_c", 74.0}}},
      {"events",
       {{{"type", "gpu_xid"},
         {"ts", t1},
         {"data", {{"gpu", "0"}, {"code", 79}, {"description", "GPU has fallen off the bus"}}}},
        {{"type", "gpu_xid"}, {"ts", t2}},
        {{"type", "disk.smart"}, {"ts", t2}, {"data", {{"disk", "nvme0"}}}}}}};
  auto r = post("/api/v1/nodes/ev-list/heartbeat", body.dump());
  ASSERT_EQ(r.status, 200) << r.body;

  r = http_request(port(), "GET", "/api/v1/events?type=gpu_xid&node=ev-list");
  ASSERT_EQ(r.status, 200) << r.body;
  auto listed = json::parse(r.body);
  EXPECT_TRUE(listed["next_cursor"].is_null());
  ASSERT_EQ(listed["events"].size(), 2u) << r.body;
  for (auto& e : listed["events"]) {
    EXPECT_TRUE(e["id"].is_number_integer()) << e;
    e.erase("id");
  }
  json want = json::array();
  want.push_back({{"ts", t2.substr(0, 19) + ".000Z"},
                  {"node", "ev-list"},
                  {"type", "gpu_xid"},
                  {"data", json::object()}});
  want.push_back(
      {{"ts", t1}, {"node", "ev-list"}, {"type", "gpu_xid"}, {"data", body["events"][0]["data"]}});
  EXPECT_EQ(listed["events"], want);
  // Every event of the node: its registration, then what it reported, in that order.
  r = http_request(port(), "GET", "/api/v1/events?node=ev-list");
  ASSERT_EQ(r.status, 200) << r.body;
  const json all = json::parse(r.body);
  std::vector<std::string> types;
  for (const auto& e : all["events"])
    types.push_back(e["type"]);
  EXPECT_EQ(types,
            (std::vector<std::string>{"disk.smart", "gpu_xid", "gpu_xid", "node_registered"}));
  // The heartbeat's samples were stored with its events.
  EXPECT_EQ(db().stored("ev-list"), 1);
}

// The agent retries a heartbeat whose answer it did not get: each event is stored once,
// whatever the order of its data's keys; a changed event is a new one.
TEST_F(IngestHeartbeat, ARetriedHeartbeatStoresEachEventOnce) {
  const std::string ts = rfc3339(now_s_ - 10);
  auto xid = [&](const char* data) {
    return json{{"type", "gpu_xid"}, {"ts", ts}, {"data", json::parse(data)}};
  };
  const std::string body = json{{"metrics", {{"gpu.temp_c", 80}}},
                                {"events", json::array({xid(R"({"gpu": "0", "code": 79})"),
                                                        xid(R"({"gpu": "1", "code": 79})"),
                                                        xid(R"({"code": 79, "gpu": "1"})")})}}
                               .dump();
  const double stored_before = scrape(port(), R"(metricsd_node_events_total{type="gpu_xid"})");
  const double skipped_before = scrape(port(), "metricsd_node_events_skipped_total");
  ASSERT_EQ(post("/api/v1/nodes/ev-retry/heartbeat", body).status, 200);
  ASSERT_EQ(post("/api/v1/nodes/ev-retry/heartbeat", body).status, 200);
  // The same event with its data's keys in another order (sent as text, so the order is
  // kept), then one that differs.
  ASSERT_EQ(post("/api/v1/nodes/ev-retry/heartbeat",
                 R"({"events": [{"type": "gpu_xid", "data": {"code": 79, "gpu": "0"}, "ts": ")" +
                     ts + "\"}]}")
                .status,
            200);
  ASSERT_EQ(post("/api/v1/nodes/ev-retry/heartbeat",
                 json{{"events", json::array({xid(R"({"gpu": "0", "code": 48})")})}}.dump())
                .status,
            200);
  auto xids = events("ev-retry");
  xids.erase(xids.begin());  // node_registered
  EXPECT_EQ(xids, (std::vector<std::string>{R"(gpu_xid {"code":79,"gpu":"0"})",
                                            R"(gpu_xid {"code":79,"gpu":"1"})",
                                            R"(gpu_xid {"code":48,"gpu":"0"})"}));
  EXPECT_EQ(scrape(port(), R"(metricsd_node_events_total{type="gpu_xid"})") - stored_before, 3);
  EXPECT_EQ(scrape(port(), "metricsd_node_events_skipped_total") - skipped_before, 1 + 3 + 1);
}

// All or nothing: one bad event refuses the heartbeat, its samples, its node record and
// its good events with it.
TEST_F(IngestHeartbeat, ABadEventStoresNothingOfTheHeartbeat) {
  const std::string ts = rfc3339(now_s_ - 10);
  const std::string body = R"({"type": "generation", "metrics": {"gpu.temp_c": 80},
    "events": [{"type": "gpu_xid", "ts": ")" +
                           ts + R"(", "data": {"code": 79}},
               {"type": "node_status", "data": {"from": "offline", "to": "online"}},
               {"type": "gpu_xid", "ts": "2999-01-01T00:00:00Z", "colour": "red"}]})";
  auto r = post("/api/v1/nodes/ev-bad/heartbeat", body);
  expect_error(r, 400, "invalid_argument");
  EXPECT_EQ(detail_places(r),
            (std::vector<std::string>{"events[1].type", "events[2].colour", "events[2].ts"}));
  EXPECT_TRUE(node_row("ev-bad").is_null());
  EXPECT_EQ(db().stored("ev-bad"), 0);
  EXPECT_EQ(events("ev-bad"), std::vector<std::string>{});

  // A known node: its record stays as it was too.
  ASSERT_EQ(post("/api/v1/nodes/ev-bad2/heartbeat", R"({"type": "a"})").status, 200);
  const int64_t seen = node_row("ev-bad2")["last_seen_ms"].get<int64_t>();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  r = post("/api/v1/nodes/ev-bad2/heartbeat",
           R"({"type": "b", "metrics": {"x": 1}, "events": [{"type": "gpu_xid"}, {"type": ""}]})");
  expect_error(r, 400, "invalid_argument");
  EXPECT_EQ(detail_places(r), std::vector<std::string>{"events[1].type"});
  EXPECT_EQ(node_row("ev-bad2")["type"], "a");
  EXPECT_EQ(node_row("ev-bad2")["last_seen_ms"], seen);
  EXPECT_EQ(db().stored("ev-bad2"), 0);
  EXPECT_EQ(events("ev-bad2"),
            std::vector<std::string>{R"(node_registered {"from":"new","to":"online"})"});
  r = http_request(port(), "GET", "/api/v1/events?type=gpu_xid&node=ev-bad2");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["events"], json::array());
}

// Types are free-form, so /metrics counts only the first 32 by name, the rest as _other.
TEST_F(IngestHeartbeat, EventTypesCountedByNameAreCapped) {
  json list = json::array();
  for (int i = 0; i < 40; ++i)
    list.push_back({{"type", "cap.t" + std::to_string(i)}});
  ASSERT_EQ(post("/api/v1/nodes/ev-cap/heartbeat", json({{"events", list}}).dump()).status, 200);
  EXPECT_EQ(events("ev-cap").size(), 41u);  // all stored, with node_registered
  auto text = http_request(port(), "GET", "/metrics").body;
  const std::string series = "\nmetricsd_node_events_total{type=\"";
  size_t named = 0;
  for (size_t at = text.find(series); at != std::string::npos; at = text.find(series, at + 1))
    if (text.compare(at + series.size(), 7, "_other\"") != 0) ++named;
  EXPECT_EQ(named, 32u) << text;
  EXPECT_GE(scrape(port(), R"(metricsd_node_events_total{type="_other"})"), 8) << text;
}

// A heartbeat is one unit: when recording the node fails, none of its samples are stored
// (nor in the head, which `latest` reads), and the agent's retry then stores them once.
TEST_F(IngestHeartbeat, AFailedNodeRecordStoresNoneOfItsSamples) {
  ASSERT_EQ(post("/api/v1/nodes/hb-unit/heartbeat", R"({"type": "x"})").status, 200);
  db().exec(R"(
    CREATE FUNCTION refuse_hb_unit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.node_id = 'hb-unit' THEN RAISE EXCEPTION 'node record refused by the test'; END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER refuse_hb_unit BEFORE UPDATE ON nodes
      FOR EACH ROW EXECUTE FUNCTION refuse_hb_unit();)");
  const std::string body = R"({"metrics": {"gpu.temp_c": 81.5, "llm.tokens_per_s": 900}})";
  auto r = post("/api/v1/nodes/hb-unit/heartbeat", body);
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_EQ(db().stored("hb-unit"), 0) << "samples of a failed heartbeat were stored";
  auto latest = http_request(port(), "GET", "/api/v1/latest?node=hb-unit");
  ASSERT_EQ(latest.status, 200) << latest.body;
  EXPECT_EQ(latest.body.find("gpu.temp_c"), std::string::npos) << latest.body;

  db().exec("DROP TRIGGER refuse_hb_unit ON nodes; DROP FUNCTION refuse_hb_unit();");
  ASSERT_EQ(post("/api/v1/nodes/hb-unit/heartbeat", body).status, 200);
  EXPECT_EQ(db().stored("hb-unit"), 2);
  latest = http_request(port(), "GET", "/api/v1/latest?node=hb-unit");
  EXPECT_NE(latest.body.find("gpu.temp_c"), std::string::npos) << latest.body;
}

}  // namespace
}  // namespace metricsd::test
