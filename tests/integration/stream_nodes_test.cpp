// Node status changes as stream messages (node and event), filtered by node; the events a
// node reports in its heartbeat as event messages, once; and the shutdown: SIGTERM closes
// every WebSocket with 1001 and the daemon exits 0.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/time_parse.hpp"
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

// A node's own event reaches the `events` subscribers of that node as the daemon's do,
// with its own time and data, after the node's registration; a retry streams nothing new.
TEST_F(StreamNodesTest, ReportedEventsArriveAsEventMessagesOnce) {
  WsClient c(port()), other(port());
  subscribe(c, {{"op", "subscribe"}, {"id", 1}, {"channels", {"events"}}, {"nodes", {"nev-1"}}});
  subscribe(other, {{"op", "subscribe"}, {"id", 1}, {"channels", {"nodes", "metrics:gpu"}}});
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  json xid = {
      {"type", "gpu_xid"},
      {"ts", now_s + 0.25},  // unix seconds, to the millisecond
      {"data", {{"gpu", "0"}, {"code", 79}, {"description", "GPU has fallen off the bus"}}}};
  // No samples: a node first seen through samples is registered by the series registry,
  // which does not stream its node_registered.
  const json body = {{"events", json::array({xid})}};
  ASSERT_EQ(heartbeat("nev-2", body).status, 200);  // filtered out
  ASSERT_EQ(heartbeat("nev-1", body).status, 200);

  // The event types up to the node's own event. (With 1 s thresholds the node may turn
  // stale meanwhile on a slow machine: node_status events are left out.)
  std::vector<std::string> order;
  std::optional<json> reported;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!reported && std::chrono::steady_clock::now() < deadline) {
    auto m = c.next_of("event", 1s);
    if (!m || (*m)["event"]["type"] == "node_status") continue;
    EXPECT_EQ((*m)["event"]["node"], "nev-1") << m->dump();
    order.push_back((*m)["event"]["type"]);
    if (order.back() == "gpu_xid") reported = *m;
  }
  EXPECT_EQ(order, (std::vector<std::string>{"node_registered", "gpu_xid"}));
  ASSERT_TRUE(reported);
  const json want = {{"type", "event"},
                     {"event",
                      {{"ts", format_rfc3339_ms(now_s * 1000 + 250)},
                       {"node", "nev-1"},
                       {"type", "gpu_xid"},
                       {"data", xid["data"]}}}};
  EXPECT_EQ(*reported, want) << reported->dump();

  // The retried heartbeat streams nothing; the next, with the same event and a new one,
  // only the new one. (The node may turn stale meanwhile: node_status events are skipped.)
  ASSERT_EQ(heartbeat("nev-1", body).status, 200);
  json xid48 = xid;
  xid48["data"]["code"] = 48;
  ASSERT_EQ(heartbeat("nev-1", {{"events", json::array({xid, xid48})}}).status, 200);
  std::vector<int> codes;
  deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto m = c.next_of("event", codes.empty() ? 1000ms : 300ms);
    if (!m) {
      if (!codes.empty()) break;  // nothing more after the new one
      continue;
    }
    if ((*m)["event"]["type"] == "gpu_xid")
      codes.push_back((*m)["event"]["data"]["code"].get<int>());
  }
  EXPECT_EQ(codes, std::vector<int>{48});
  // No event message for a client that did not subscribe to events.
  EXPECT_FALSE(other.next_of("event", 300ms));
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
