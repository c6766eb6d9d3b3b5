// Node status changes as stream messages (node and event), filtered by node; and the
// shutdown: SIGTERM closes every WebSocket with 1001 and the daemon exits 0.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "stream_support.hpp"

namespace metricsd::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class StreamNodesTest : public StreamBase {
 protected:
  static void SetUpTestSuite() {
    start({"--nodes-stale-after-s", "1", "--nodes-offline-after-s", "2"});
  }
  static void TearDownTestSuite() { stop(); }
};

TEST_F(StreamNodesTest, StatusChangesArriveAsNodeAndEventMessages) {
  WsClient c(port());
  subscribe(
      c, {{"op", "subscribe"}, {"id", 1}, {"channels", {"nodes", "events"}}, {"nodes", {"nst-1"}}});
  ASSERT_EQ(heartbeat("nst-1", {{"type", "generation"}}).status, 200);
  ASSERT_EQ(heartbeat("nst-2", {{"type", "generation"}}).status, 200);
  std::vector<json> seen;
  auto offline = c.next_of("node", 8s, &seen);
  ASSERT_TRUE(offline);
  if ((*offline)["status"] == "stale") {
    seen.push_back(*offline);
    offline = c.next_of("node", 8s, &seen);
    ASSERT_TRUE(offline);
  }
  EXPECT_EQ((*offline)["node"], "nst-1");
  EXPECT_EQ((*offline)["status"], "offline");
  EXPECT_TRUE((*offline)["last_seen"].is_string());
  bool stale_node = false, stale_event = false;
  for (const auto& m : seen) {
    EXPECT_NE(m.dump().find("nst-1"), std::string::npos) << "filtered out: " << m.dump();
    if (m["type"] == "node" && m["status"] == "stale") stale_node = true;
    if (m["type"] == "event" && m["event"]["data"]["to"] == "stale") {
      stale_event = true;
      EXPECT_EQ(m["event"]["type"], "node_status");
      EXPECT_EQ(m["event"]["data"]["from"], "online");
    }
  }
  EXPECT_TRUE(stale_node);
  EXPECT_TRUE(stale_event);
  auto ev = c.next_of("event", 3s);
  ASSERT_TRUE(ev);
  EXPECT_EQ((*ev)["event"]["node"], "nst-1");
  EXPECT_EQ((*ev)["event"]["data"]["to"], "offline");
}

// Last in the suite: it stops the daemon.
TEST_F(StreamNodesTest, SigtermClosesEveryStreamWith1001) {
  WsClient a(port()), b(port(), {.deflate = true});
  subscribe(a, {{"op", "subscribe"}, {"id", 1}, {"channels", {"metrics:term"}}});
  daemon_->signal(SIGTERM);
  EXPECT_EQ(a.wait_closed(), 1001);
  EXPECT_EQ(b.wait_closed(), 1001);
  EXPECT_EQ(daemon_->wait_exit(30s), 0) << daemon_->log();
}

}  // namespace
}  // namespace metricsd::test
