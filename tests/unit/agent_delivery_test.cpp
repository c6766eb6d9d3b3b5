// The agent's delivery logic without a network: the bounded buffer sheds the oldest, the
// outbox keeps a replaced heartbeat's metrics as samples, backoff grows with jitter and
// honours Retry-After, the API bodies and answers, and flag parsing over the environment.
#include <gtest/gtest.h>

#include <map>

#include "tools/agent/agent_options.hpp"
#include "tools/agent/bounded_buffer.hpp"
#include "tools/agent/outbox.hpp"
#include "tools/agent/payloads.hpp"
#include "tools/agent/retry_policy.hpp"
#include "tools/agent/xid_watcher.hpp"

namespace metricsd::tools {
namespace {

using std::chrono::milliseconds;

TEST(AgentBuffer, ShedsOldestFirstAndCounts) {
  BoundedBuffer<int> b(3);
  EXPECT_EQ(b.push({1, 2}), 0u);
  EXPECT_EQ(b.push({3, 4, 5}), 2u);
  EXPECT_EQ(b.take(10), (std::vector<int>{3, 4, 5}));
  EXPECT_EQ(b.shed_total(), 2u);
}

TEST(AgentBuffer, RestoredBatchGoesBackInFrontAndOverflowShedsItsOldest) {
  BoundedBuffer<int> b(4);
  b.push({1, 2, 3});
  auto batch = b.take(2);  // 1, 2
  b.push({4, 5});          // 3, 4, 5
  EXPECT_EQ(b.restore(std::move(batch)), 1u);
  EXPECT_EQ(b.take(10), (std::vector<int>{2, 3, 4, 5}));
}

TEST(AgentBuffer, StringsAreAlsoBoundedByBytes) {
  BoundedBuffer<std::string> b(100, 10);
  EXPECT_EQ(b.push({"aaaa", "bbbb"}), 0u);
  EXPECT_EQ(b.push({"cccc"}), 1u);  // 12 bytes > 10: the oldest goes
  auto batch = b.take(1);
  EXPECT_EQ(batch, (std::vector<std::string>{"bbbb"}));
  b.push({"dddd"});                            // cccc dddd
  EXPECT_EQ(b.restore(std::move(batch)), 1u);  // bbbb cccc dddd: 12 bytes, bbbb goes
  EXPECT_EQ(b.push({"eeee"}), 1u);             // cccc goes
  EXPECT_EQ(b.take(10), (std::vector<std::string>{"dddd", "eeee"}));
}

Collection collection(int64_t ts, double load) {
  Collection c;
  c.ts_ms = ts;
  c.unlabelled["system.load1"] = load;
  c.labelled.push_back({"disk.used_pct", {{"mount", "/"}}, 50, ts, ""});
  return c;
}

TEST(AgentOutbox, ReplacedHeartbeatKeepsItsMetricsAsTimestampedSamples) {
  Outbox box(100);
  box.add_collection(collection(1000, 0.5));
  box.add_collection(collection(2000, 0.7));
  auto hb = box.take_heartbeat();
  ASSERT_TRUE(hb);
  EXPECT_EQ(hb->ts_ms, 2000);
  auto samples = box.take_samples(100);
  ASSERT_EQ(samples.size(), 3u);  // two disk samples, and the first heartbeat's load
  bool found = false;
  for (const auto& s : samples)
    if (s.metric == "system.load1") {
      EXPECT_EQ(s.ts_ms, 1000);
      EXPECT_DOUBLE_EQ(s.value, 0.5);
      found = true;
    }
  EXPECT_TRUE(found);
  box.heartbeat_failed(*hb);
  EXPECT_EQ(box.take_samples(100).size(), 1u);
  EXPECT_TRUE(box.empty());
}

TEST(AgentOutbox, ShedCountsAreReportedOnce) {
  Outbox box(2);
  box.add_lines({"a", "b", "c"});
  EXPECT_EQ(box.take_shed_counts(), (std::pair<uint64_t, uint64_t>{0, 1}));
  EXPECT_EQ(box.take_shed_counts(), (std::pair<uint64_t, uint64_t>{0, 0}));
  EXPECT_EQ(box.take_lines(5, 1), (std::vector<std::string>{"b"}));  // one line at least
  EXPECT_EQ(box.take_lines(5, 1 << 20), (std::vector<std::string>{"c"}));
}

// Node events (XID errors) wait for a heartbeat: at most 100 ride on one, a failed one
// gives them back in order, a refused one drops them, and beyond 1000 the oldest are shed.
TEST(AgentOutbox, NodeEventsRideOnHeartbeatsBoundedAndInOrder) {
  Outbox box(100);
  auto with_events = [](int64_t ts, int from, int n) {
    Collection c = collection(ts, 0.5);
    for (int i = from; i < from + n; ++i)
      c.events.push_back({{"type", "gpu_xid"}, {"data", {{"code", i}}}});
    return c;
  };
  box.add_collection(with_events(1000, 0, 150));
  auto hb = box.take_heartbeat();
  ASSERT_TRUE(hb);
  ASSERT_EQ(hb->events.size(), Outbox::kEventsPerHeartbeat);
  EXPECT_EQ(hb->events[0]["data"]["code"], 0);
  EXPECT_EQ(box.pending_events(), 50u);
  box.heartbeat_failed(*hb);  // undelivered: back in front, in order
  EXPECT_EQ(box.pending_events(), 150u);
  box.add_collection(with_events(2000, 150, 1));
  hb = box.take_heartbeat();
  ASSERT_TRUE(hb);
  EXPECT_EQ(hb->events[0]["data"]["code"], 0);
  EXPECT_EQ(hb->events[99]["data"]["code"], 99);
  box.heartbeat_failed(*hb, true);  // refused: dropped
  EXPECT_EQ(box.pending_events(), 51u);
  box.add_collection(with_events(3000, 1000, 1000));
  EXPECT_EQ(box.pending_events(), Outbox::kMaxEvents);
  EXPECT_EQ(box.take_shed_events(), 51u);
  EXPECT_EQ(box.take_shed_events(), 0u);
  hb = box.take_heartbeat();
  EXPECT_EQ(hb->events[0]["data"]["code"], 1000);
}

TEST(AgentRetry, BackoffDoublesWithJitterUpToTheCapAndHonoursRetryAfter) {
  RetryPolicy p(milliseconds(500), milliseconds(8000), 7);
  int64_t prev_step = 0;
  for (int i = 0; i < 10; ++i) {
    const int64_t step = std::min<int64_t>(8000, 500LL << i);
    auto d = p.next_delay(std::nullopt).count();
    EXPECT_GE(d, step / 2) << i;
    EXPECT_LE(d, step) << i;
    EXPECT_GE(step, prev_step);
    prev_step = step;
  }
  EXPECT_EQ(p.next_delay(milliseconds(30000)), milliseconds(30000));
  p.reset();
  EXPECT_LE(p.next_delay(std::nullopt).count(), 500);
}

TEST(AgentRetry, RetryAfterSecondsOnly) {
  EXPECT_EQ(parse_retry_after("7"), milliseconds(7000));
  EXPECT_EQ(parse_retry_after(" 2 "), milliseconds(2000));
  EXPECT_EQ(parse_retry_after("999999"), milliseconds(3600000));
  EXPECT_FALSE(parse_retry_after("Wed, 21 Oct 2026 07:28:00 GMT"));
  EXPECT_FALSE(parse_retry_after(""));
}

TEST(AgentPayloads, BodiesFollowTheApi) {
  auto m = nlohmann::json::parse(metrics_json(
      "n1",
      {{"gpu.temp_c", {{"gpu", "0"}}, 71.5, 1795600000250, ""}, {"x.y", {}, 1, 1000, "other"}}));
  EXPECT_EQ(m["node"], "n1");
  EXPECT_EQ(m["samples"][0]["labels"]["gpu"], "0");
  EXPECT_DOUBLE_EQ(m["samples"][0]["ts"].get<double>(), 1795600000.25);
  EXPECT_FALSE(m["samples"][1].contains("labels"));
  EXPECT_EQ(m["samples"][1]["node"], "other");

  HeartbeatBody hb;
  hb.type = "generation";
  hb.labels = {{"site", "lab"}};
  hb.interval_s = 5;
  hb.state = {{"mode", "gaming"}, {"throttle", 0.5}};
  hb.metrics = {{"system.cpu_util", 12.5}};
  auto h = nlohmann::json::parse(heartbeat_json(hb));
  EXPECT_EQ(h["labels"]["site"], "lab");
  EXPECT_EQ(h["state"]["throttle"], 0.5);
  EXPECT_FALSE(h.contains("info"));
  EXPECT_FALSE(h.contains("events"));  // none: left out, as older servers know no events
  EXPECT_EQ(h["metrics"]["system.cpu_util"], 12.5);
  hb.events.push_back(XidEvent{"0", 79, 1795600000250, ""}.to_event());
  h = nlohmann::json::parse(heartbeat_json(hb));
  ASSERT_EQ(h["events"].size(), 1u);
  EXPECT_EQ(h["events"][0]["type"], "gpu_xid");
  EXPECT_DOUBLE_EQ(h["events"][0]["ts"].get<double>(), 1795600000.25);
  EXPECT_EQ(h["events"][0]["data"]["code"], 79);

  auto a = nlohmann::json::parse(ack_json(false, "boom"));
  EXPECT_EQ(a, (nlohmann::json{{"status", "failed"}, {"message", "boom"}}));
}

// The samples body is written without a JSON library: it must parse back to what was sent,
// with quotes, control characters and multi-byte UTF-8 intact and invalid UTF-8 replaced.
TEST(AgentPayloads, MetricsBodyEscapesAndKeepsEveryValue) {
  const std::string odd = std::string("a\"b\\c\n\x01 d\xc3\xa9 \xe2\x82\xac") + "\xff\xc3";
  std::vector<Sample> in = {
      {"gpu.process_mem_mb", {{"process", odd}, {"pid", "42"}}, 70000.5, 1795600000001, ""},
      {"x.y", {}, -1e-300, 0, "n\"2"},
      {"x.z", {}, 1.0 / 3, 1, ""}};
  auto doc = nlohmann::json::parse(metrics_json("n1", in));
  ASSERT_EQ(doc["samples"].size(), 3u);
  EXPECT_EQ(doc["node"], "n1");
  EXPECT_EQ(doc["samples"][0]["labels"]["process"],
            std::string("a\"b\\c\n\x01 d\xc3\xa9 \xe2\x82\xac") + "\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(doc["samples"][0]["labels"]["pid"], "42");
  EXPECT_DOUBLE_EQ(doc["samples"][0]["value"].get<double>(), 70000.5);
  EXPECT_DOUBLE_EQ(doc["samples"][0]["ts"].get<double>(), 1795600000.001);
  EXPECT_EQ(doc["samples"][1]["node"], "n\"2");
  EXPECT_EQ(doc["samples"][1]["value"].get<double>(), -1e-300);
  EXPECT_EQ(doc["samples"][2]["value"].get<double>(), 1.0 / 3);  // round-trips exactly
  EXPECT_EQ(nlohmann::json::parse(metrics_json("", {})),
            (nlohmann::json{{"samples", nlohmann::json::array()}}));
}

TEST(AgentPayloads, CommandsFromHeartbeatAnswers) {
  auto c = parse_commands(
      R"({"server_time":"x","commands":[{"id":7,"type":"pause","args":{"s":1}},{"id":"a8","type":"stop"},{"type":"x"},5]})");
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].id, "7");
  EXPECT_EQ(c[0].type, "pause");
  EXPECT_EQ(c[0].whole["args"]["s"], 1);
  EXPECT_EQ(c[1].id, "a8");
  EXPECT_TRUE(parse_commands("not json").empty());
  EXPECT_TRUE(parse_commands(R"({"commands":[]})").empty());
  EXPECT_EQ(
      error_message(R"({"error":{"code":"unauthenticated","message":"no token","details":[]}})"),
      "no token");
}

TEST(AgentOptionsParse, FlagsOverEnvironmentOverDefaults) {
  std::map<std::string, std::string> env = {{"METRICSD_AGENT_SERVER", "http://env:1"},
                                            {"METRICSD_AGENT_INTERVAL_S", "3"},
                                            {"METRICSD_AGENT_LABELS", "site=lab,rack=2"},
                                            {"METRICSD_AGENT_NODE", "env-node"}};
  auto getenv = [&](const char* k) -> const char* {
    auto it = env.find(k);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  auto o = parse_agent_options({"--server", "http://flag:2", "--interval-s=0.5", "--once"}, getenv);
  EXPECT_EQ(o.server, "http://flag:2");
  EXPECT_DOUBLE_EQ(o.interval_s, 0.5);
  EXPECT_EQ(o.node, "env-node");
  EXPECT_EQ(o.labels, (Labels{{"site", "lab"}, {"rack", "2"}}));
  EXPECT_TRUE(o.once);
  auto o2 = parse_agent_options({"--label", "a=1", "--label", "b=2"}, getenv);
  EXPECT_EQ(o2.labels, (Labels{{"a", "1"}, {"b", "2"}}));
}

TEST(AgentOptionsParse, BadFlagsAreRefusedWithTheirName) {
  auto none = [](const char*) -> const char* { return nullptr; };
  auto refused = [&](std::vector<std::string> args, const std::string& names) {
    try {
      parse_agent_options(args, none);
      ADD_FAILURE() << "accepted " << args[0];
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(names), std::string::npos) << e.what();
    }
  };
  refused({"--interval-s", "0"}, "--interval-s");
  refused({"--nope"}, "--nope");
  refused({"--label", "novalue"}, "--label");
  refused({"--listen-lp", "0.0.0.0:8094"}, "loopback");
  refused({"--node", "bad node"}, "--node");
  refused({"--buffer-samples", "0"}, "--buffer-samples");
  refused({"--server"}, "needs a value");
  refused({"--server", "https://tls.example:8443"}, "--server");
  refused({"--gpu-source", "cuda"}, "--gpu-source");
  refused({"--gpu-processes", "-1"}, "--gpu-processes");
  refused({"--nvml-library", ""}, "--nvml-library");
  EXPECT_EQ(parse_loopback_listen("127.0.0.1:8094"),
            (std::pair<std::string, unsigned short>{"127.0.0.1", 8094}));
  EXPECT_EQ(parse_loopback_listen("localhost:0").first, "127.0.0.1");
}

}  // namespace
}  // namespace metricsd::tools
