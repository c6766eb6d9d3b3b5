// The heartbeat decoder: a table of bodies and what each decodes to, or which fields it
// names as wrong.
#include "api/heartbeat_decode.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace metricsd::api {
namespace {

constexpr int64_t kNow = 1'795'514'400'000;  // 2026-11-24T10:00:00Z

DecodedHeartbeat decode(const std::string& body, Problems& p) {
  return decode_heartbeat(body, "gpu-1", kNow, p);
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

TEST(HeartbeatDecode, NestingBeyondTheLimitIsRefusedWithoutRecursing) {
  std::string deep = R"({"state":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  Problems p;
  decode(deep, p);
  EXPECT_EQ(fields(p), std::vector<std::string>{"body"});
}

}  // namespace
}  // namespace metricsd::api
