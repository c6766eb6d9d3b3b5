// Node status over time: a heartbeat makes a node online, silence makes it stale then
// offline (each change an event), a new heartbeat brings it back; /api/v1/events lists
// them with filters and pagination.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <thread>

#include "harness.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class NodeStatusTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    daemon_ =
        new Daemon(dir_->path(), {"--nodes-stale-after-s", "1", "--nodes-offline-after-s", "2"});
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete dir_;
  }
  static HttpResult heartbeat(const std::string& node, const json& body) {
    return http_request(daemon_->port(), "POST", "/api/v1/nodes/" + node + "/heartbeat",
                        body.dump(), {{"Content-Type", "application/json"}});
  }
  static std::string status_of(const std::string& node) {
    pqxx::connection c("host=" + dir_->path().string() +
                       "/run port=5432 user=postgres dbname=metricsd");
    pqxx::nontransaction tx(c);
    auto r = tx.exec_params("SELECT status FROM nodes WHERE node_id = $1", node);
    return r.empty() ? "" : r[0][0].as<std::string>();
  }
  static bool wait_status(const std::string& node, const std::string& want) {
    for (int i = 0; i < 100; ++i) {
      if (status_of(node) == want) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
  static json events(const std::string& query) {
    auto r = http_request(daemon_->port(), "GET", "/api/v1/events" + query);
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body);
  }
  static TempDir* dir_;
  static Daemon* daemon_;
};
TempDir* NodeStatusTest::dir_ = nullptr;
Daemon* NodeStatusTest::daemon_ = nullptr;

TEST_F(NodeStatusTest, SilenceMakesANodeStaleThenOfflineAndAHeartbeatBringsItBack) {
  ASSERT_EQ(heartbeat("cycle-1", {{"type", "generation"}}).status, 200);
  EXPECT_EQ(status_of("cycle-1"), "online");
  ASSERT_TRUE(wait_status("cycle-1", "stale"));
  ASSERT_TRUE(wait_status("cycle-1", "offline"));
  ASSERT_EQ(heartbeat("cycle-1", json::object()).status, 200);
  EXPECT_EQ(status_of("cycle-1"), "online");
  auto e = events("?node=cycle-1");
  std::vector<std::string> seen;
  for (const auto& ev : e["events"]) {
    EXPECT_EQ(ev["node"], "cycle-1");
    seen.push_back(ev["type"].get<std::string>() + ":" + ev["data"]["to"].get<std::string>());
  }
  // Newest first.
  EXPECT_EQ(seen, (std::vector<std::string>{"node_status:online", "node_status:offline",
                                            "node_status:stale", "node_registered:online"}));
  EXPECT_EQ(e["events"][1]["data"]["from"], "stale");
  EXPECT_TRUE(e["events"][1]["data"]["last_seen"].is_string());
}

TEST_F(NodeStatusTest, OwnIntervalLengthensTheThresholds) {
  // Two nodes heard at the same moment: one on the suite's thresholds (stale after 1 s),
  // one announcing a 2 s interval (stale after 3 x 2 s). When the first turns stale, the
  // second is still online.
  ASSERT_EQ(heartbeat("slow-1", {{"interval_s", 2}}).status, 200);
  ASSERT_EQ(heartbeat("fast-1", json::object()).status, 200);
  ASSERT_TRUE(wait_status("fast-1", "stale"));
  EXPECT_EQ(status_of("slow-1"), "online");
  EXPECT_TRUE(wait_status("slow-1", "stale"));
}

TEST_F(NodeStatusTest, EventsFilterAndPaginate) {
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(heartbeat("page-" + std::to_string(i), json::object()).status, 200);
  auto first = events("?type=node_registered&limit=2");
  ASSERT_EQ(first["events"].size(), 2u);
  ASSERT_TRUE(first["next_cursor"].is_string());
  auto second =
      events("?type=node_registered&limit=2&cursor=" + first["next_cursor"].get<std::string>());
  ASSERT_EQ(second["events"].size(), 2u);
  EXPECT_LT(second["events"][0]["id"].get<int64_t>(), first["events"][1]["id"].get<int64_t>());
  for (const auto& ev : second["events"])
    EXPECT_EQ(ev["type"], "node_registered");
  auto none = events("?from=now&to=" + std::to_string(2'000'000'000));
  EXPECT_TRUE(none["events"].empty());
  auto recent = events("?from=-1h&node=page-3");
  ASSERT_EQ(recent["events"].size(), 1u);
  EXPECT_EQ(recent["events"][0]["node"], "page-3");
}

TEST_F(NodeStatusTest, BadEventQueriesAre400) {
  for (std::string q : {"?limit=0", "?limit=1001", "?limit=x", "?cursor=-1", "?from=yesterday",
                        "?node=bad%20node", "?color=red", "?from=now&to=-1h"}) {
    auto r = http_request(daemon_->port(), "GET", "/api/v1/events" + q);
    EXPECT_EQ(r.status, 400) << q << " " << r.body;
    EXPECT_EQ(json::parse(r.body)["error"]["code"], "invalid_argument") << q;
  }
}

TEST_F(NodeStatusTest, MetricsCountNodesByStatus) {
  const int port = daemon_->port();
  const std::string online = "metricsd_nodes{status=\"online\"}";
  const std::string to_stale = "metricsd_node_status_transitions_total{to=\"stale\"}";
  const double stale_before = metric_value(port, to_stale, 0);
  ASSERT_EQ(heartbeat("count-1", json::object()).status, 200);
  EXPECT_TRUE(eventually([&] { return metric_value(port, online, 0) >= 1; }))
      << http_request(port, "GET", "/metrics").body;
  ASSERT_TRUE(wait_status("count-1", "stale"));
  EXPECT_TRUE(eventually([&] { return metric_value(port, to_stale, 0) > stale_before; }))
      << http_request(port, "GET", "/metrics").body;
}

}  // namespace
}  // namespace metricsd::test
