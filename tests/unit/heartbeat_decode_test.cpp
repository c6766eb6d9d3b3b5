// The heartbeat decoder: a table of bodies and what each decodes to, or which fields it
// names as wrong; its `events` the same way.
#include "api/heartbeat_decode.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace metricsd::api {
namespace {

constexpr int64_t kNow = 1'795'514'400'000;  // 2026-11-24T10:00:00Z
// As the daemon's defaults: 600 s ahead, 7 days back.
const TimeBounds kBounds{kNow, 600'000, 7 * 86'400'000LL};

DecodedHeartbeat decode(const std::string& body, Problems& p) {
  return decode_heartbeat(body, "gpu-1", kBounds, p);
}

std::vector<std::string> fields(const Problems& p) {
  std::vector<std::string> out;
  for (const auto& d : p.details)
    out.push_back(d.value("field", ""));
  return out;
}

TEST(HeartbeatDecode, EmptyBodyIsAnEmptyHeartbeat) {
  Problems p;
  auto hb = decode("", p);
  EXPECT_TRUE(p.empty());
  EXPECT_FALSE(hb.fields.type || hb.fields.hostname || hb.fields.labels_json ||
               hb.fields.state_json || hb.fields.info_json || hb.fields.interval_s);
  EXPECT_EQ(hb.samples.size(), 0u);
  EXPECT_TRUE(hb.events.empty());
}

TEST(HeartbeatDecode, FieldsSentAreKeptAndOthersLeftUnset) {
  Problems p;
  auto hb = decode(R"({"type":"inference","labels":{"rack":"r1","gpu":"h200"},"interval_s":5,
                       "state":{"busy":true}})",
                   p);
  ASSERT_TRUE(p.empty()) << p.details.dump();
  EXPECT_EQ(hb.fields.type, "inference");
  EXPECT_FALSE(hb.fields.hostname);
  EXPECT_EQ(hb.fields.labels_json, R"({"gpu":"h200","rack":"r1"})");
  EXPECT_EQ(hb.fields.state_json, R"({"busy":true})");
  EXPECT_FALSE(hb.fields.info_json);
  EXPECT_EQ(hb.fields.interval_s, 5.0);
}

TEST(HeartbeatDecode, MetricsBecomeSamplesOfTheNodeAtTheHeartbeatTime) {
  Problems p;
  auto hb = decode(R"({"metrics":{"gpu.temp_c":71.5,"gpu.util_pct":99,"tokens_per_s":1200}})", p);
  ASSERT_TRUE(p.empty()) << p.details.dump();
  ASSERT_EQ(hb.samples.size(), 3u);
  for (size_t i = 0; i < hb.samples.size(); ++i)
    EXPECT_EQ(hb.samples.ts_ms[i], kNow);
  std::vector<std::string> metrics;
  for (const auto& s : hb.samples.series) {
    EXPECT_EQ(s.node, "gpu-1");
    metrics.push_back(s.metric);
  }
  std::sort(metrics.begin(), metrics.end());
  EXPECT_EQ(metrics, (std::vector<std::string>{"gpu.temp_c", "gpu.util_pct", "tokens_per_s"}));
}

struct BadCase {
  const char* body;
  std::vector<std::string> fields;  // named in the problems, in order
};

TEST(HeartbeatDecode, EveryBadFieldIsNamed) {
  const std::vector<BadCase> cases = {
      {"{", {"body"}},
      {"[1]", {"body"}},
      {R"("x")", {"body"}},
      {R"({"colour":"red"})", {"colour"}},
      {R"({"type":7})", {"type"}},
      {R"({"hostname":"a\u0000b"})", {"hostname"}},
      {R"({"labels":[]})", {"labels"}},
      {R"({"labels":{"9bad":"x"}})", {"labels.9bad"}},
      {R"({"labels":{"ok":3}})", {"labels.ok"}},
      {R"({"state":{"a":"\u0000"}})", {"state.a"}},
      {R"({"info":"text"})", {"info"}},
      {R"({"interval_s":0})", {"interval_s"}},
      {R"({"interval_s":86401})", {"interval_s"}},
      {R"({"interval_s":"5"})", {"interval_s"}},
      {R"({"metrics":{"gpu":{"temp_c":71}}})", {"metrics.gpu"}},
      {R"({"metrics":{"9bad":1}})", {"metrics.9bad"}},
      {R"({"type":1,"interval_s":-1,"extra":true})", {"extra", "type", "interval_s"}},
  };
  for (const auto& c : cases) {
    Problems p;
    decode(c.body, p);
    EXPECT_EQ(fields(p), c.fields) << c.body << " -> " << p.details.dump();
  }
}

TEST(HeartbeatDecode, TextOver256BytesAndObjectsOver64KiBAreRefused) {
  Problems p;
  decode(R"({"hostname":")" + std::string(257, 'h') + R"("})", p);
  EXPECT_EQ(fields(p), std::vector<std::string>{"hostname"});
  Problems q;
  decode(R"({"info":{"blob":")" + std::string(70000, 'x') + R"("}})", q);
  EXPECT_EQ(fields(q), std::vector<std::string>{"info"});
}

// An event as text, to compare readably: "node type@ts data".
std::string text(const NodeEvent& e) {
  return e.node + " " + e.type + "@" + std::to_string(e.ts_ms) + " " + e.data_json;
}

TEST(HeartbeatDecode, EventsAreTheNodesInOrderWithTheirTimesAndData) {
  Problems p;
  auto hb = decode(R"({"metrics": {"gpu.temp_c": 71},
    "events": [
      {"type": "gpu_xid", "ts": "2026-11-24T09:59:01.250Z",
       "data": {"gpu": "0", "code": 79, "description": "GPU has fallen off the bus"}},
      {"type": "disk.smart_2", "ts": 1795514399.5},
      {"data": {"b": [1, {"z": null}], "a": "x"}, "type": "x"},
      {"type": "gpu_xid", "ts": "2026-11-24T10:09:59+00:00", "data": {}}]})",
                   p);
  ASSERT_TRUE(p.empty()) << p.details.dump();
  EXPECT_EQ(hb.samples.size(), 1u);
  std::vector<std::string> got;
  for (const auto& e : hb.events)
    got.push_back(text(e));
  EXPECT_EQ(
      got,
      (std::vector<std::string>{
          // data is canonical JSON text: keys sorted, no spaces
          R"(gpu-1 gpu_xid@1795514341250 {"code":79,"description":"GPU has fallen off the bus","gpu":"0"})",
          "gpu-1 disk.smart_2@1795514399500 {}",                    // no data: {}
          R"(gpu-1 x@1795514400000 {"a":"x","b":[1,{"z":null}]})",  // no ts: the heartbeat's
          "gpu-1 gpu_xid@1795514999000 {}",
      }));
}

TEST(HeartbeatDecode, EmptyEventsAndLimitsExactlyMetAreFine) {
  Problems p;
  EXPECT_TRUE(decode(R"({"events": []})", p).events.empty());
  EXPECT_TRUE(p.empty()) << p.details.dump();

  // 100 events, a 64-byte type, data of exactly 4096 bytes, the oldest and newest times.
  std::string type(64, 't');
  std::string data = R"({"s":")" + std::string(4096 - 8, 'd') + R"("})";
  ASSERT_EQ(data.size(), kMaxEventDataBytes);
  std::string body = R"({"events": [)";
  for (size_t i = 0; i < kMaxHeartbeatEvents; ++i) {
    if (i) body += ',';
    body += R"({"type": ")" + type + R"(", "data": )" + data + "}";
  }
  body += R"(]})";
  Problems q;
  auto hb = decode(body, q);
  ASSERT_TRUE(q.empty()) << q.details.dump().substr(0, 400);
  ASSERT_EQ(hb.events.size(), kMaxHeartbeatEvents);
  EXPECT_EQ(hb.events[99].type, type);
  EXPECT_EQ(hb.events[99].data_json, data);

  Problems r;
  auto edges = decode(
      R"({"events": [{"type": "a", "ts": 1795515000}, {"type": "b", "ts": 1794909600}]})", r);
  ASSERT_TRUE(r.empty()) << r.details.dump();
  ASSERT_EQ(edges.events.size(), 2u);
  EXPECT_EQ(edges.events[0].ts_ms, kNow + 600'000);
  EXPECT_EQ(edges.events[1].ts_ms, kNow - 7 * 86'400'000LL);
}

TEST(HeartbeatDecode, EveryBadEventIsNamedByItsPath) {
  const std::vector<BadCase> cases = {
      {R"({"events": {"type": "gpu_xid"}})", {"events"}},
      {R"({"events": "gpu_xid"})", {"events"}},
      {R"({"events": null})", {"events"}},
      {R"({"events": [1]})", {"events[0]"}},
      {R"({"events": [{"type": "a"}, []]})", {"events[1]"}},
      {R"({"events": [{}]})", {"events[0].type"}},
      {R"({"events": [{"ts": 1795514400}]})", {"events[0].type"}},
      {R"({"events": [{"type": 79}]})", {"events[0].type"}},
      {R"({"events": [{"type": ""}]})", {"events[0].type"}},
      {R"({"events": [{"type": "GPU_XID"}]})", {"events[0].type"}},
      {R"({"events": [{"type": "gpu-xid"}]})", {"events[0].type"}},
      {R"({"events": [{"type": "9xid"}]})", {"events[0].type"}},
      {R"({"events": [{"type": "gpu xid"}]})", {"events[0].type"}},
      {R"({"events": [{"type": "gpu\u0000"}]})", {"events[0].type"}},
      {R"({"events": [{"type": "node_status"}]})", {"events[0].type"}},
      {R"({"events": [{"type": "node_registered"}]})", {"events[0].type"}},
      {R"({"events": [{"type": "a", "ts": "yesterday"}]})", {"events[0].ts"}},
      {R"({"events": [{"type": "a", "ts": true}]})", {"events[0].ts"}},
      {R"({"events": [{"type": "a", "ts": null}]})", {"events[0].ts"}},
      {R"({"events": [{"type": "a", "ts": "2026-11-24T10:10:00.001Z"}]})", {"events[0].ts"}},
      {R"({"events": [{"type": "a", "ts": 1794909599.999}]})", {"events[0].ts"}},
      {R"({"events": [{"type": "a", "ts": 1e300}]})", {"events[0].ts"}},
      {R"({"events": [{"type": "a", "data": [1]}]})", {"events[0].data"}},
      {R"({"events": [{"type": "a", "data": "x"}]})", {"events[0].data"}},
      {R"({"events": [{"type": "a", "data": null}]})", {"events[0].data"}},
      {R"({"events": [{"type": "a", "data": {"k": ["\u0000"]}}]})", {"events[0].data.k[0]"}},
      {R"({"events": [{"type": "a", "code": 79}]})", {"events[0].code"}},
      {R"({"events": [{"type": "a", "node": "gpu-2"}]})", {"events[0].node"}},
      // Every problem of every event, each event's unknown keys first.
      {R"({"events": [{"type": "ok"}, {"type": "Bad", "ts": "x", "data": 1, "id": 3},
                      {"type": "fine"}, {"data": {}}]})",
       {"events[1].id", "events[1].type", "events[1].ts", "events[1].data", "events[3].type"}},
      // Events' problems come with the others'.
      {R"({"interval_s": 0, "events": [{"type": "node_status"}], "metrics": {"9": 1}})",
       {"interval_s", "metrics.9", "events[0].type"}},
  };
  for (const auto& c : cases) {
    Problems p;
    decode(c.body, p);
    EXPECT_EQ(fields(p), c.fields) << c.body << " -> " << p.details.dump();
  }
}

TEST(HeartbeatDecode, OverAHundredEventsOrDataOver4KiBAreRefused) {
  std::string body = R"({"events": [)";
  for (size_t i = 0; i <= kMaxHeartbeatEvents; ++i)
    body += std::string(i ? "," : "") + R"({"type": "gpu_xid", "data": {"i": )" +
            std::to_string(i) + "}}";
  body += "]}";
  Problems p;
  auto hb = decode(body, p);
  // One problem for the array, not one per event.
  EXPECT_EQ(fields(p), std::vector<std::string>{"events"}) << p.details.dump();
  EXPECT_NE(p.details[0]["message"].get<std::string>().find("at most 100"), std::string::npos);
  EXPECT_TRUE(hb.events.empty());

  Problems q;
  decode(R"({"events": [{"type": "a"}, {"type": "b", "data": {"s": ")" +
             std::string(4096 - 7, 'd') + R"("}}]})",
         q);
  EXPECT_EQ(fields(q), std::vector<std::string>{"events[1].data"}) << q.details.dump();
}

TEST(HeartbeatDecode, NestingBeyondTheLimitIsRefusedWithoutRecursing) {
  std::string deep = R"({"state":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  Problems p;
  decode(deep, p);
  EXPECT_EQ(fields(p), std::vector<std::string>{"body"});
}

}  // namespace
}  // namespace metricsd::api
