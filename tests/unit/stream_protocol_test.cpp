// The /ws/metrics client protocol: channel names, requests (table-driven, good and bad),
// and the encoded server messages.
#include "core/stream_protocol.hpp"

#include <gtest/gtest.h>

namespace metricsd::stream {
namespace {

using nlohmann::json;
using K = Channel::Kind;

TEST(StreamChannel, ParsesEveryKind) {
  EXPECT_EQ(parse_channel("metrics:gpu"), (Channel{K::kCategory, "gpu"}));
  EXPECT_EQ(parse_channel("metrics:gpu.temp_c"), (Channel{K::kMetric, "gpu.temp_c"}));
  EXPECT_EQ(parse_channel("metrics:llm.tokens_per_s"), (Channel{K::kMetric, "llm.tokens_per_s"}));
  EXPECT_EQ(parse_channel("nodes"), (Channel{K::kNodes, ""}));
  EXPECT_EQ(parse_channel("events"), (Channel{K::kEvents, ""}));
  for (const char* bad : {"", "metrics:", "metrics", "gpu", "metrics:9gpu", "metrics:gpu temp",
                          "metrics:gpu.", "Nodes", "metrics:*"})
    EXPECT_FALSE(parse_channel(bad)) << bad;
  EXPECT_EQ((Channel{K::kMetric, "gpu.temp_c"}).text(), "metrics:gpu.temp_c");
  EXPECT_EQ((Channel{K::kEvents, ""}).text(), "events");
}

Request ok(std::string_view text, Limits limits = {}) {
  auto r = parse_request(text, limits);
  EXPECT_TRUE(std::holds_alternative<Request>(r))
      << text << " -> " << std::get<RequestError>(r).message;
  return std::holds_alternative<Request>(r) ? std::get<Request>(r) : Request{};
}

RequestError fails(std::string_view text, Limits limits = {}) {
  auto r = parse_request(text, limits);
  EXPECT_TRUE(std::holds_alternative<RequestError>(r)) << text;
  return std::holds_alternative<RequestError>(r) ? std::get<RequestError>(r) : RequestError{};
}

TEST(StreamRequest, SubscribeWithChannelsAndNodes) {
  auto r = ok(R"({"op":"subscribe","id":1,"channels":["metrics:gpu","metrics:llm.tokens_per_s",
      "nodes","events","metrics:gpu"],"nodes":["gpu-07","gpu-01","gpu-07"]})");
  EXPECT_EQ(r.op, Request::Op::kSubscribe);
  EXPECT_EQ(r.id, json(1));
  ASSERT_EQ(r.channels.size(), 4u);  // the repeated channel once
  EXPECT_EQ(r.channels[0], (Channel{K::kCategory, "gpu"}));
  EXPECT_EQ(r.channels[1], (Channel{K::kMetric, "llm.tokens_per_s"}));
  ASSERT_TRUE(r.nodes);
  EXPECT_EQ(*r.nodes, (std::vector<std::string>{"gpu-01", "gpu-07"}));  // sorted, unique
}

TEST(StreamRequest, OlderFormMeansCategories) {
  auto r = ok(R"({"subscribe": ["system", "neural", "language"]})");
  EXPECT_EQ(r.op, Request::Op::kSubscribe);
  EXPECT_TRUE(r.id.is_null());
  EXPECT_EQ(r.channels,
            (std::vector<Channel>{
                {K::kCategory, "system"}, {K::kCategory, "neural"}, {K::kCategory, "language"}}));
  EXPECT_EQ(fails(R"({"subscribe": ["gpu.temp_c"]})").details[0]["field"], "subscribe[0]");
}

TEST(StreamRequest, UnsubscribeAndPing) {
  auto u = ok(R"({"op":"unsubscribe","id":"x","channels":["events"]})");
  EXPECT_EQ(u.op, Request::Op::kUnsubscribe);
  EXPECT_EQ(u.id, json("x"));
  EXPECT_FALSE(u.all_channels);
  EXPECT_TRUE(ok(R"({"op":"unsubscribe"})").all_channels);
  auto p = ok(R"({"op":"ping","id":3})");
  EXPECT_EQ(p.op, Request::Op::kPing);
  EXPECT_EQ(p.id, json(3));
}

TEST(StreamRequest, BadRequestsNameTheProblem) {
  struct Case {
    const char* text;
    const char* field;
    json id;
  };
  for (const auto& c : std::vector<Case>{
           {"not json", "message", nullptr},
           {"[1,2]", "message", nullptr},
           {R"({"id":1})", "op", 1},
           {R"({"op":"dance","id":2})", "op", 2},
           {R"({"op":"subscribe","id":3})", "channels", 3},
           {R"({"op":"subscribe","id":4,"channels":"metrics:gpu"})", "channels", 4},
           {R"({"op":"subscribe","id":5,"channels":["metrics:gpu","bogus"]})", "channels[1]", 5},
           {R"({"op":"subscribe","id":6,"channels":[7]})", "channels[0]", 6},
           {R"({"op":"subscribe","id":7,"channels":["nodes"],"nodes":["bad node"]})", "nodes[0]",
            7},
           {R"({"op":"subscribe","id":8,"channels":["nodes"],"nodes":"gpu-07"})", "nodes", 8},
           {R"({"op":"unsubscribe","id":9,"nodes":[]})", "nodes", 9},
           {R"({"op":"ping","id":{"a":1}})", "id", nullptr},
       }) {
    auto e = fails(c.text);
    EXPECT_EQ(e.code, "invalid_argument") << c.text;
    EXPECT_EQ(e.id, c.id) << c.text;
    ASSERT_FALSE(e.details.empty()) << c.text;
    EXPECT_EQ(e.details[0]["field"], c.field) << c.text;
  }
}

TEST(StreamRequest, TooManyChannelsInOneRequest) {
  Limits l;
  l.max_channels = 2;
  auto e =
      fails(R"({"op":"subscribe","id":1,"channels":["metrics:a","metrics:b","metrics:c"]})", l);
  EXPECT_EQ(e.details[0]["limit"], 2);
  EXPECT_NE(e.message.find("stream.max_channels"), std::string::npos);
}

TEST(StreamMessages, Encoded) {
  EXPECT_EQ(
      json::parse(encode_subscribed("subscribed", 1, {{K::kCategory, "gpu"}, {K::kNodes, ""}})),
      json::parse(R"({"type":"subscribed","id":1,"channels":["metrics:gpu","nodes"]})"));
  EXPECT_EQ(json::parse(encode_pong(nullptr)), json::parse(R"({"type":"pong"})"));
  EXPECT_EQ(json::parse(encode_dropped(40, 2)),
            json::parse(R"({"type":"dropped","count":40,"messages":2})"));
  auto err = json::parse(encode_error({7, "invalid_argument", "bad", json::array()}));
  EXPECT_EQ(err["type"], "error");
  EXPECT_EQ(err["id"], 7);
  EXPECT_EQ(err["error"]["code"], "invalid_argument");
  EXPECT_EQ(json::parse(encode_node("gpu-07", "offline", 1795600000000)),
            json::parse(R"({"type":"node","node":"gpu-07","status":"offline",
                            "last_seen":"2026-11-25T09:46:40.000Z"})"));
  auto ev = json::parse(encode_event("gpu-07", "node_status", {{"to", "stale"}}, 1795600000000));
  EXPECT_EQ(ev["event"]["type"], "node_status");
  EXPECT_EQ(ev["event"]["data"]["to"], "stale");
}

}  // namespace
}  // namespace metricsd::stream
