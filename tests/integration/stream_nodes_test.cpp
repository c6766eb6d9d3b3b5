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
  // new -> online (heartbeat), online -> stale -> offline (monitor), each a node message
  // and an event, and nothing about nst-2 (filtered out).
  std::vector<std::string> statuses, events;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while ((statuses.empty() || statuses.back() != "offline" || events.size() < 3) &&
         std::chrono::steady_clock::now() < deadline) {
    auto m = c.next(1s);
    if (!m) continue;
    EXPECT_EQ(m->dump().find("nst-2"), std::string::npos) << "not filtered: " << m->dump();
    if ((*m)["type"] == "node") {
      EXPECT_EQ((*m)["node"], "nst-1");
      EXPECT_TRUE((*m)["last_seen"].is_string());
      statuses.push_back((*m)["status"]);
    } else if ((*m)["type"] == "event") {
      const auto& e = (*m)["event"];
      EXPECT_EQ(e["node"], "nst-1");
      events.push_back(e["type"].get<std::string>() + ":" + e["data"]["from"].get<std::string>() +
                       "->" + e["data"]["to"].get<std::string>());
    }
  }
  EXPECT_EQ(statuses, (std::vector<std::string>{"online", "stale", "offline"}));
  EXPECT_EQ(events,
            (std::vector<std::string>{"node_registered:new->online", "node_status:online->stale",
                                      "node_status:stale->offline"}));
  // A heartbeat brings it back: the change is streamed at once, not on the next tick.
  ASSERT_EQ(heartbeat("nst-1", {{"type", "generation"}}).status, 200);
  auto online = c.next_of("node", 1s);
  ASSERT_TRUE(online);
  EXPECT_EQ((*online)["status"], "online");
  auto back = c.next_of("event", 1s);
  ASSERT_TRUE(back);
  EXPECT_EQ((*back)["event"]["type"], "node_status");
  EXPECT_EQ((*back)["event"]["data"]["from"], "offline");
  EXPECT_EQ((*back)["event"]["data"]["to"], "online");
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
