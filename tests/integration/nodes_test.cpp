// The fleet read endpoints against the real daemon: GET /api/v1/nodes with its filters,
// GET /api/v1/nodes/{node_id} with info, and GET /api/v1/summary's counts, category
// sums and ingest rate. Nodes come from heartbeats and line-protocol writes; statuses
// other than online are made by ageing last_seen in the database and letting the
// node monitor (default thresholds: stale after 15 s, offline after 60 s) catch up.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <regex>
#include <thread>

#include "core/clock.hpp"
#include "harness.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// One daemon with its own PostgreSQL, and the requests the tests make of it.
class Fleet {
 public:
  Fleet() : daemon_(dir_.path()) {}
  bool ready() { return daemon_.wait_ready(); }
  std::string log() const { return daemon_.log(); }

  HttpResult heartbeat(const std::string& node, const json& body) {
    return http_request(daemon_.port(), "POST", "/api/v1/nodes/" + node + "/heartbeat", body.dump(),
                        {{"Content-Type", "application/json"}});
  }
  HttpResult write(const std::string& lines) {
    return http_request(daemon_.port(), "POST", "/api/v1/write?precision=ms", lines);
  }
  HttpResult get(const std::string& target) { return http_request(daemon_.port(), "GET", target); }
  // The answer's JSON, expecting 200.
  json get_json(const std::string& target) {
    auto r = get(target);
    EXPECT_EQ(r.status, 200) << target << " " << r.body;
    EXPECT_EQ(r.header("content-type"), "application/json");
    return json::parse(r.body, nullptr, false);
  }
  // The node ids of a listing, in answer order.
  std::vector<std::string> ids(const std::string& query) {
    std::vector<std::string> out;
    json list = get_json("/api/v1/nodes" + query);
    for (const auto& n : list["nodes"])
      out.push_back(n["node_id"].get<std::string>());
    return out;
  }
  // Makes the node's last heartbeat `age_s` old, as if it had gone quiet.
  void age(const std::string& node, int age_s) {
    pqxx::connection c("host=" + dir_.path().string() +
                       "/run port=5432 user=postgres dbname=metricsd");
    pqxx::nontransaction tx(c);
    tx.exec_params(
        "UPDATE nodes SET last_seen = now() - make_interval(secs => $2) "
        "WHERE node_id = $1",
        node, age_s);
  }
  bool wait_status(const std::string& node, const std::string& want) {
    for (int i = 0; i < 100; ++i) {
      if (get_json("/api/v1/nodes/" + node)["status"] == want) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

 private:
  TempDir dir_;
  Daemon daemon_;
};

void expect_entity_time(const json& t, int64_t from_ms, int64_t to_ms) {
  static const std::regex re(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  ASSERT_TRUE(t.is_string()) << t;
  EXPECT_TRUE(std::regex_match(t.get<std::string>(), re)) << t;
  // Within the test's own wall clock span (whole seconds either side: same machine).
  std::tm tm{};
  strptime(t.get<std::string>().c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  int64_t s = timegm(&tm);
  EXPECT_GE(s, from_ms / 1000 - 1) << t;
  EXPECT_LE(s, to_ms / 1000 + 1) << t;
}

// The error model: status, code, and the field `details` names.
void expect_error(const HttpResult& r, int status, const std::string& code,
                  const std::string& field) {
  EXPECT_EQ(r.status, status) << r.body;
  json e = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(e.contains("error")) << r.body;
  EXPECT_EQ(e["error"]["code"], code) << r.body;
  if (!field.empty()) {
    ASSERT_EQ(e["error"]["details"].size(), 1u) << r.body;
    EXPECT_EQ(e["error"]["details"][0]["field"], field) << r.body;
    EXPECT_TRUE(e["error"]["details"][0]["message"].is_string()) << r.body;
  }
}

class NodesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fleet_ = new Fleet();
    ASSERT_TRUE(fleet_->ready()) << fleet_->log();
  }
  static void TearDownTestSuite() {
    delete fleet_;
    fleet_ = nullptr;
  }
  static Fleet* fleet_;
};
Fleet* NodesTest::fleet_ = nullptr;

TEST_F(NodesTest, ListShowsEveryFieldAndTheLatestValueOfEachSeries) {
  int64_t before = wall_ms();
  ASSERT_EQ(fleet_
                ->heartbeat("gpu-a",
                            {{"type", "generation"},
                             {"hostname", "msi"},
                             {"labels", {{"site", "lab"}, {"t", "fields"}}},
                             {"interval_s", 5},
                             {"state", {{"mode", "gaming"}, {"throttle", 0.5}}},
                             {"info", {{"gpus", {{{"name", "RTX 4090"}}}}}},
                             {"metrics", {{"system.cpu_util", 35.0}, {"llm.tokens_per_s", 640.0}}}})
                .status,
            200);
  // Labelled series; the second write of gpu 0 is newer and wins.
  int64_t t = wall_ms();
  ASSERT_EQ(fleet_
                ->write("gpu,node=gpu-a,gpu=0 temp_c=71.5 " + std::to_string(t - 2000) +
                        "\ngpu,node=gpu-a,gpu=1 temp_c=68 " + std::to_string(t - 2000) +
                        "\ngpu,node=gpu-a,gpu=0,slot=x\"y mem_c=50 " + std::to_string(t - 2000))
                .status,
            204);
  ASSERT_EQ(fleet_->write("gpu,node=gpu-a,gpu=0 temp_c=72.5 " + std::to_string(t - 1000)).status,
            204);
  int64_t after = wall_ms();

  json list = fleet_->get_json("/api/v1/nodes?label=t:fields");
  ASSERT_EQ(list["nodes"].size(), 1u) << list;
  json node = list["nodes"][0];
  expect_entity_time(node["first_seen"], before, after);
  expect_entity_time(node["last_seen"], before, after);
  node.erase("first_seen");
  node.erase("last_seen");
  json want = {{"node_id", "gpu-a"},
               {"type", "generation"},
               {"hostname", "msi"},
               {"labels", {{"site", "lab"}, {"t", "fields"}}},
               {"status", "online"},
               {"state", {{"mode", "gaming"}, {"throttle", 0.5}}},
               {"interval_s", 5.0},
               {"latest",
                {{"system.cpu_util", 35.0},
                 {"llm.tokens_per_s", 640.0},
                 {"gpu.temp_c{gpu=\"0\"}", 72.5},
                 {"gpu.temp_c{gpu=\"1\"}", 68.0},
                 {"gpu.mem_c{gpu=\"0\",slot=\"x\\\"y\"}", 50.0}}}};
  EXPECT_EQ(node, want) << node.dump(2);
  EXPECT_FALSE(list["nodes"][0].contains("info"));
}

TEST_F(NodesTest, GetIsTheListEntryPlusInfo) {
  json info = {{"gpus", {{{"name", "RTX 4090"}, {"vram_mb", 24564}}}}, {"driver", "550.54"}};
  ASSERT_EQ(fleet_
                ->heartbeat("get-1", {{"type", "training"},
                                      {"hostname", "box"},
                                      {"labels", {{"t", "get"}}},
                                      {"info", info},
                                      {"metrics", {{"train.loss", 0.25}}}})
                .status,
            200);
  json list = fleet_->get_json("/api/v1/nodes?label=t:get");
  ASSERT_EQ(list["nodes"].size(), 1u) << list;
  json one = fleet_->get_json("/api/v1/nodes/get-1");
  EXPECT_EQ(one["info"], info) << one;
  EXPECT_EQ(one["interval_s"], nullptr);
  EXPECT_EQ(one["latest"], json({{"train.loss", 0.25}}));
  one.erase("info");
  EXPECT_EQ(one, list["nodes"][0]);
}

TEST_F(NodesTest, ANodeFirstSeenThroughSamplesIsListed) {
  int64_t before = wall_ms();
  ASSERT_EQ(fleet_->write("system,node=lp-only cpu_util=12.5 " + std::to_string(before)).status,
            204);
  json one = fleet_->get_json("/api/v1/nodes/lp-only");
  expect_entity_time(one["first_seen"], before, wall_ms());
  one.erase("first_seen");
  one.erase("last_seen");
  json want = {{"node_id", "lp-only"},  {"type", ""},
               {"hostname", ""},        {"labels", json::object()},
               {"status", "online"},    {"state", json::object()},
               {"interval_s", nullptr}, {"latest", {{"system.cpu_util", 12.5}}},
               {"info", json::object()}};
  EXPECT_EQ(one, want) << one.dump(2);

  auto all = fleet_->ids("");
  EXPECT_NE(std::find(all.begin(), all.end(), "lp-only"), all.end());
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
  EXPECT_EQ(fleet_->ids("?type=&label=t:none"), std::vector<std::string>{});
}

TEST_F(NodesTest, FiltersByStatusTypeAndLabels) {
  auto hb = [](const std::string& node, const std::string& type, const json& labels) {
    ASSERT_EQ(fleet_->heartbeat(node, {{"type", type}, {"labels", labels}}).status, 200);
  };
  hb("f-1", "generation",
     {{"t", "filters"}, {"site", "flab"}, {"rack", "fr1"}, {"endpoint", "http://h:80"}});
  hb("f-2", "training", {{"t", "filters"}, {"site", "flab"}, {"rack", "fr2"}});
  hb("f-3", "generation", {{"t", "filters"}, {"site", "fdc"}, {"rack", "fr1"}});
  fleet_->age("f-2", 30);
  fleet_->age("f-3", 120);
  ASSERT_TRUE(fleet_->wait_status("f-2", "stale"));
  ASSERT_TRUE(fleet_->wait_status("f-3", "offline"));

  using V = std::vector<std::string>;
  EXPECT_EQ(fleet_->ids("?label=t:filters"), (V{"f-1", "f-2", "f-3"}));
  EXPECT_EQ(fleet_->ids("?label=t:filters&status=online"), (V{"f-1"}));
  EXPECT_EQ(fleet_->ids("?label=t:filters&status=stale"), (V{"f-2"}));
  EXPECT_EQ(fleet_->ids("?label=t:filters&status=offline"), (V{"f-3"}));
  EXPECT_EQ(fleet_->ids("?label=t:filters&type=generation"), (V{"f-1", "f-3"}));
  EXPECT_EQ(fleet_->ids("?type=training&label=t:filters&status=stale"), (V{"f-2"}));
  EXPECT_EQ(fleet_->ids("?type=training&status=online&label=t:filters"), (V{}));
  // Two labels: both must match.
  EXPECT_EQ(fleet_->ids("?label=site:flab&label=rack:fr1"), (V{"f-1"}));
  EXPECT_EQ(fleet_->ids("?label=site:flab"), (V{"f-1", "f-2"}));
  EXPECT_EQ(fleet_->ids("?label=rack:fr1&label=site:fdc"), (V{"f-3"}));
  EXPECT_EQ(fleet_->ids("?label=t:filters&label=t:other"), (V{}));
  EXPECT_EQ(fleet_->ids("?label=nolabel:x"), (V{}));
  // The value is everything after the first ':'.
  EXPECT_EQ(fleet_->ids("?label=endpoint:http://h:80"), (V{"f-1"}));
  EXPECT_EQ(fleet_->ids("?label=endpoint:http%3A%2F%2Fh%3A80"), (V{"f-1"}));
}

TEST_F(NodesTest, BadListQueriesAre400NamingTheParameter) {
  struct Case {
    std::string query, field;
  };
  for (const auto& c : std::vector<Case>{{"?status=gone", "status"},
                                         {"?status=", "status"},
                                         {"?status=ONLINE", "status"},
                                         {"?status=online&status=stale", "status"},
                                         {"?type=a&type=b", "type"},
                                         {"?type=" + std::string(257, 'x'), "type"},
                                         {"?label=nocolon", "label"},
                                         {"?label=:x", "label"},
                                         {"?label=1bad:x", "label"},
                                         {"?label=a-b:x", "label"},
                                         {"?label=k:%FF", "label"},
                                         {"?color=red", "color"},
                                         {"?node=gpu-a", "node"}}) {
    SCOPED_TRACE(c.query);
    expect_error(fleet_->get("/api/v1/nodes" + c.query), 400, "invalid_argument", c.field);
  }
}

TEST_F(NodesTest, UnknownNodeIs404AndABadNodeIdIs400) {
  auto r = fleet_->get("/api/v1/nodes/gpu-99");
  expect_error(r, 404, "not_found", "");
  EXPECT_EQ(json::parse(r.body)["error"]["message"], "no node gpu-99");
  expect_error(fleet_->get("/api/v1/nodes/bad%20node"), 400, "invalid_argument", "node_id");
  expect_error(fleet_->get("/api/v1/nodes/-dash"), 400, "invalid_argument", "node_id");
  expect_error(fleet_->get("/api/v1/nodes/" + std::string(129, 'n')), 400, "invalid_argument",
               "node_id");
  expect_error(fleet_->get("/api/v1/nodes/gpu-a?verbose=1"), 400, "invalid_argument", "verbose");
  expect_error(fleet_->get("/api/v1/summary?x=1"), 400, "invalid_argument", "x");
}

// A daemon of its own, so the counts are exact.
class NodesSummaryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fleet_ = new Fleet();
    ASSERT_TRUE(fleet_->ready()) << fleet_->log();
  }
  static void TearDownTestSuite() {
    delete fleet_;
    fleet_ = nullptr;
  }
  static Fleet* fleet_;
};
Fleet* NodesSummaryTest::fleet_ = nullptr;

TEST_F(NodesSummaryTest, CountsSumsAndIngestRate) {
  json empty = fleet_->get_json("/api/v1/summary");
  EXPECT_EQ(empty, json({{"nodes", {{"total", 0}, {"online", 0}, {"stale", 0}, {"offline", 0}}},
                         {"series", 0},
                         {"ingest", {{"samples_per_s", 0.0}}},
                         {"categories", json::object()}}))
      << empty;

  // 7 samples in 7 series over 3 nodes.
  ASSERT_EQ(fleet_
                ->heartbeat("s-1",
                            {{"type", "generation"},
                             {"metrics", {{"llm.tokens_per_s", 640.0}, {"system.cpu_util", 10.0}}}})
                .status,
            200);
  ASSERT_EQ(fleet_
                ->heartbeat("s-2",
                            {{"type", "generation"},
                             {"metrics", {{"llm.tokens_per_s", 812.0}, {"system.cpu_util", 20.0}}}})
                .status,
            200);
  int64_t t = wall_ms();
  ASSERT_EQ(fleet_
                ->write("gpu,node=s-1,gpu=0 temp_c=70 " + std::to_string(t) +
                        "\ngpu,node=s-1,gpu=1 temp_c=60.5 " + std::to_string(t) +
                        "\nsystem,node=s-3 cpu_util=5 " + std::to_string(t))
                .status,
            204);

  // Right after the writes the rate is positive as soon as their second is complete, and
  // once every write's second is, it is exactly 7 samples over the minute.
  auto rate = [] {
    return fleet_->get_json("/api/v1/summary")["ingest"]["samples_per_s"].get<double>();
  };
  double first = 0;
  for (int i = 0; i < 40 && (first = rate()) == 0; ++i)
    std::this_thread::sleep_for(50ms);
  EXPECT_GT(first, 0);
  double settled = 0;
  EXPECT_TRUE(eventually([&] { return (settled = rate()) == 7.0 / 60; }, 5s)) << settled;

  fleet_->age("s-2", 30);
  fleet_->age("s-3", 120);
  ASSERT_TRUE(fleet_->wait_status("s-2", "stale"));
  ASSERT_TRUE(fleet_->wait_status("s-3", "offline"));

  json s = fleet_->get_json("/api/v1/summary");
  EXPECT_EQ(s["nodes"], json({{"total", 3}, {"online", 1}, {"stale", 1}, {"offline", 1}})) << s;
  EXPECT_EQ(s["series"], 7) << s;
  EXPECT_EQ(s["categories"],
            json({{"llm", {{"series", 2}, {"sum", {{"llm.tokens_per_s", 1452.0}}}}},
                  {"system", {{"series", 3}, {"sum", {{"system.cpu_util", 35.0}}}}},
                  {"gpu", {{"series", 2}, {"sum", {{"gpu.temp_c", 130.5}}}}}}))
      << s.dump(2);
  EXPECT_GT(s["ingest"]["samples_per_s"].get<double>(), 0);

  // A newer value replaces the old one in the sum.
  ASSERT_EQ(fleet_->heartbeat("s-2", {{"metrics", {{"llm.tokens_per_s", 900.0}}}}).status, 200);
  EXPECT_EQ(fleet_->get_json("/api/v1/summary")["categories"]["llm"]["sum"]["llm.tokens_per_s"],
            1540.0);
}

}  // namespace
}  // namespace metricsd::test
