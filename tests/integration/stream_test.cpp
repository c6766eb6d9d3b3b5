// GET /ws/metrics end to end with real WebSocket clients against the real daemon: the
// snapshot after subscribe, live samples after a POST, category/metric/node filters,
// unsubscribe, ping, bad and oversized messages (an error, the connection stays),
// the older subscribe form, permessage-deflate, the client limit (503 before the upgrade)
// and the stream's counters. Each test uses metrics and nodes of its own.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "stream_support.hpp"

namespace metricsd::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class StreamTest : public StreamBase {
 protected:
  static void SetUpTestSuite() {
    start({"--stream-max-clients", "6", "--stream-max-channels", "4", "--stream-max-message-bytes",
           "1KiB", "--auth-cache-ttl-ms", "1s"});
  }
  static void TearDownTestSuite() { stop(); }
};

// Samples of metrics messages until `n` arrived (or the timeout).
std::vector<json> collect(WsClient& c, size_t n, std::chrono::milliseconds timeout = 5s) {
  std::vector<json> out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < n) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    auto m = c.next_of("metrics", left);
    if (!m) break;
    for (auto& s : (*m)["samples"])
      out.push_back(s);
  }
  return out;
}

std::string key(const json& s) {
  return s["node"].get<std::string>() + "/" + s["metric"].get<std::string>() + "=" +
         s["value"].dump();
}

std::vector<std::string> keys(const std::vector<json>& samples) {
  std::vector<std::string> out;
  for (const auto& s : samples)
    out.push_back(key(s));
  std::sort(out.begin(), out.end());
  return out;
}

TEST_F(StreamTest, SnapshotHasTheLatestValueOfEveryMatchingSeries) {
  ASSERT_EQ(post_metrics("snap-1", {{"snapt.a", 1}, {"snapt.b", 2}, {"othert.x", 3}}).status, 200);
  ASSERT_EQ(post_metrics("snap-1", {{"snapt.a", 5}}).status, 200);
  WsClient c(port());
  auto snap = subscribe(c, {{"op", "subscribe"}, {"id", 1}, {"channels", {"metrics:snapt"}}});
  EXPECT_EQ(snap["id"], 1);
  EXPECT_EQ(keys(snap["samples"].get<std::vector<json>>()),
            (std::vector<std::string>{"snap-1/snapt.a=5", "snap-1/snapt.b=2"}));
  for (const auto& s : snap["samples"]) {
    EXPECT_EQ(s["labels"], json::object());
    EXPECT_TRUE(s["ts"].is_number_integer());
  }
}

TEST_F(StreamTest, CommittedSamplesArriveWithinAFractionOfASecond) {
  WsClient c(port());
  auto snap = subscribe(c, {{"op", "subscribe"}, {"id", "a"}, {"channels", {"metrics:livet"}}});
  EXPECT_TRUE(snap["samples"].empty());
  auto posted = std::chrono::steady_clock::now();
  json body = {
      {"node", "live-1"},
      {"samples", {{{"metric", "livet.temp_c"}, {"value", 71.5}, {"labels", {{"gpu", "0"}}}}}}};
  auto r = http_request(port(), "POST", "/api/v1/metrics", body.dump(),
                        {{"Content-Type", "application/json"}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto m = c.next_of("metrics", 3s);
  ASSERT_TRUE(m);
  auto waited = std::chrono::steady_clock::now() - posted;
  EXPECT_LT(waited, 500ms);
  ASSERT_EQ((*m)["samples"].size(), 1u) << m->dump();
  const auto& s = (*m)["samples"][0];
  EXPECT_EQ(s["metric"], "livet.temp_c");
  EXPECT_EQ(s["node"], "live-1");
  EXPECT_EQ(s["labels"], json({{"gpu", "0"}}));
  EXPECT_EQ(s["value"], 71.5);
  EXPECT_TRUE(s["ts"].is_number_integer());
  EXPECT_TRUE((*m)["committed_ms"].is_number_integer());
}

TEST_F(StreamTest, CategoryMetricAndNodeFilters) {
  WsClient by_category(port()), by_metric(port()), by_node(port());
  subscribe(by_category, {{"op", "subscribe"}, {"id", 1}, {"channels", {"metrics:filt"}}});
  subscribe(by_metric, {{"op", "subscribe"}, {"id", 1}, {"channels", {"metrics:filt.one"}}});
  subscribe(by_node, {{"op", "subscribe"},
                      {"id", 1},
                      {"channels", {"metrics:filt", "metrics:filt.one"}},
                      {"nodes", {"filt-n2"}}});
  ASSERT_EQ(post_metrics("filt-n1", {{"filt.one", 1}, {"filt.two", 2}, {"nofilt.x", 9}}).status,
            200);
  ASSERT_EQ(post_metrics("filt-n2", {{"filt.one", 3}}).status, 200);
  EXPECT_EQ(
      keys(collect(by_category, 3)),
      (std::vector<std::string>{"filt-n1/filt.one=1", "filt-n1/filt.two=2", "filt-n2/filt.one=3"}));
  EXPECT_EQ(keys(collect(by_metric, 2)),
            (std::vector<std::string>{"filt-n1/filt.one=1", "filt-n2/filt.one=3"}));
  // A metric inside a subscribed category is not sent twice.
  EXPECT_EQ(keys(collect(by_node, 1)), (std::vector<std::string>{"filt-n2/filt.one=3"}));
  for (auto* c : {&by_category, &by_metric, &by_node})
    EXPECT_FALSE(c->next_of("metrics", 300ms)) << "unexpected extra samples";
}

TEST_F(StreamTest, UnsubscribeStopsDeliveryAndPingIsAnswered) {
  WsClient c(port());
  subscribe(c, {{"op", "subscribe"}, {"id", 1}, {"channels", {"metrics:unsub", "events"}}});
  ASSERT_TRUE(c.send_json(json{{"op", "unsubscribe"}, {"id", 2}, {"channels", {"metrics:unsub"}}}));
  auto ack = c.next();
  ASSERT_TRUE(ack);
  EXPECT_EQ(*ack, json::parse(R"({"type":"unsubscribed","id":2,"channels":["events"]})"));
  // A client still subscribed witnesses the flush that would have carried the sample to c
  // too, ahead of c's pong.
  WsClient witness(port());
  subscribe(witness, {{"op", "subscribe"}, {"id", 1}, {"channels", {"metrics:unsub"}}});
  ASSERT_EQ(post_metrics("unsub-1", {{"unsub.x", 1}}).status, 200);
  ASSERT_TRUE(witness.next_of("metrics", 5s)) << "the sample was never streamed";
  ASSERT_TRUE(c.send_json(json{{"op", "ping"}, {"id", 3}}));
  auto pong = c.next();
  ASSERT_TRUE(pong);
  EXPECT_EQ(*pong, json::parse(R"({"type":"pong","id":3})")) << "no metrics after unsubscribe";
}

TEST_F(StreamTest, BadMessagesGetAnErrorAndTheConnectionStays) {
  WsClient c(port());
  struct Case {
    std::string text;
    json id;
    std::string field;
  };
  for (const auto& k : std::vector<Case>{
           {"not json", nullptr, "message"},
           {R"({"op":"dance","id":5})", 5, "op"},
           {R"({"op":"subscribe","id":6,"channels":["bogus"]})", 6, "channels[0]"},
           {R"({"op":"subscribe","id":7,"channels":["metrics:a","metrics:b","metrics:c",
               "metrics:d","metrics:e"]})",
            7, "channels"},
       }) {
    ASSERT_TRUE(c.send(k.text));
    auto e = c.next();
    ASSERT_TRUE(e) << k.text;
    EXPECT_EQ((*e)["type"], "error") << e->dump();
    EXPECT_EQ((*e)["id"], k.id) << e->dump();
    EXPECT_EQ((*e)["error"]["code"], "invalid_argument") << e->dump();
    EXPECT_EQ((*e)["error"]["details"][0]["field"], k.field) << e->dump();
    EXPECT_FALSE((*e)["error"]["message"].get<std::string>().empty());
  }
  // The limit counts what is already subscribed, too.
  subscribe(c, {{"op", "subscribe"}, {"id", 8}, {"channels", {"metrics:a", "metrics:b", "nodes"}}});
  ASSERT_TRUE(
      c.send_json(json{{"op", "subscribe"}, {"id", 9}, {"channels", {"metrics:c", "metrics:d"}}}));
  auto e = c.next();
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["type"], "error");
  EXPECT_EQ((*e)["id"], 9);
  ASSERT_TRUE(c.send_json(json{{"op", "ping"}, {"id", 10}}));
  auto pong = c.next();
  ASSERT_TRUE(pong);
  EXPECT_EQ((*pong)["type"], "pong");
  EXPECT_GE(
      metric_value(port(), "metricsd_stream_client_errors_total{code=\"invalid_argument\"}", 0), 5);
}

TEST_F(StreamTest, OversizedMessageGetsAnErrorAndAHugeOneClosesWith1009) {
  WsClient c(port());
  std::string big = R"({"op":"ping","id":1,"pad":")" + std::string(2000, 'x') + "\"}";
  ASSERT_TRUE(c.send(big));
  auto e = c.next();
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["type"], "error");
  EXPECT_EQ((*e)["error"]["code"], "payload_too_large") << e->dump();
  ASSERT_TRUE(c.send_json(json{{"op", "ping"}, {"id", 2}}));
  auto pong = c.next();
  ASSERT_TRUE(pong);
  EXPECT_EQ((*pong)["id"], 2);
  // Beyond 16 x stream.max_message_bytes the message is not even read.
  c.send(std::string(20 * 1024, ' '));
  EXPECT_EQ(c.wait_closed(), 1009);
}

TEST_F(StreamTest, OlderSubscribeFormMeansCategories) {
  WsClient c(port());
  ASSERT_TRUE(c.send(R"({"subscribe": ["legacyt", "legacyu"]})"));
  auto ack = c.next();
  ASSERT_TRUE(ack);
  EXPECT_EQ(*ack, json::parse(
                      R"({"type":"subscribed","channels":["metrics:legacyt","metrics:legacyu"]})"));
  EXPECT_EQ((*c.next())["type"], "snapshot");
  ASSERT_EQ(post_metrics("legacy-1", {{"legacyt.x", 4}, {"other.y", 1}}).status, 200);
  EXPECT_EQ(keys(collect(c, 1)), (std::vector<std::string>{"legacy-1/legacyt.x=4"}));
}

TEST_F(StreamTest, PermessageDeflateIsNegotiatedWhenOffered) {
  WsClient plain(port());
  EXPECT_FALSE(plain.deflate_negotiated());
  WsClient c(port(), {.deflate = true});
  EXPECT_TRUE(c.deflate_negotiated()) << c.extensions_header();
  subscribe(c, {{"op", "subscribe"}, {"id", 1}, {"channels", {"metrics:deflt"}}});
  json metrics;
  for (int i = 0; i < 50; ++i)
    metrics["deflt.m" + std::to_string(i)] = i;
  ASSERT_EQ(post_metrics("deflt-1", metrics).status, 200);
  EXPECT_EQ(collect(c, 50).size(), 50u);
}

TEST_F(StreamTest, PlainGetIsRefusedWith400) {
  auto r = http_request(port(), "GET", "/ws/metrics");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "invalid_argument");
}

TEST_F(StreamTest, ClientLimitAnswers503BeforeTheUpgrade) {
  // Connections of earlier tests are gone once the daemon has seen them close.
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (metric_value(port(), "metricsd_stream_clients", 0) > 0 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  std::vector<std::unique_ptr<WsClient>> clients;
  for (int i = 0; i < 6; ++i)
    clients.push_back(std::make_unique<WsClient>(port()));
  auto r = try_upgrade(port(), "/ws/metrics?access_token=secret");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "unavailable");
  EXPECT_FALSE(r.header("retry-after").empty());
  EXPECT_GE(metric_value(port(), "metricsd_stream_refused_total{reason=\"max_clients\"}", 0), 1);
  clients.pop_back();
  deadline = std::chrono::steady_clock::now() + 5s;
  while (metric_value(port(), "metricsd_stream_clients", 0) > 5 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  EXPECT_NO_THROW(WsClient again(port()));
  // The query string (it may carry a token) never reaches the log.
  EXPECT_EQ(daemon_->log().find("secret"), std::string::npos);
}

// A token of role viewer or higher, in the header or (for browsers) in ?access_token=;
// anything else is refused with an HTTP error before the upgrade.
TEST_F(StreamTest, UpgradeNeedsAViewerToken) {
  auto token = [](const std::string& role) {
    json body = {{"name", "stream-" + role}, {"role", role}};
    if (role == "agent") body["node"] = "auth-node";
    auto r = http_request(port(), "POST", "/api/v1/tokens", body.dump(),
                          {{"Content-Type", "application/json"}});
    EXPECT_EQ(r.status, 201) << r.body;
    return json::parse(r.body, nullptr, false).value("token", "");
  };
  std::string viewer = token("viewer"), agent = token("agent");
  auto none = try_upgrade(port(), "/ws/metrics", {{"Authorization", ""}});
  EXPECT_EQ(none.status, 401) << none.body;
  EXPECT_EQ(json::parse(none.body)["error"]["code"], "unauthenticated");
  EXPECT_EQ(none.header("www-authenticate"), "Bearer");
  auto unknown =
      try_upgrade(port(), "/ws/metrics?access_token=mtd_nosuchtoken", {{"Authorization", ""}});
  EXPECT_EQ(unknown.status, 401) << unknown.body;
  auto weak = try_upgrade(port(), "/ws/metrics?access_token=" + agent, {{"Authorization", ""}});
  EXPECT_EQ(weak.status, 403) << weak.body;
  EXPECT_EQ(json::parse(weak.body)["error"]["code"], "permission_denied");
  auto weak_header = try_upgrade(port(), "/ws/metrics", {{"Authorization", "Bearer " + agent}});
  EXPECT_EQ(weak_header.status, 403) << weak_header.body;
  EXPECT_GE(metric_value(port(), "metricsd_stream_refused_total{reason=\"unauthenticated\"}", 0),
            2);
  EXPECT_GE(metric_value(port(), "metricsd_stream_refused_total{reason=\"permission_denied\"}", 0),
            2);
  // A viewer streams, with the token in the query string as a browser sends it...
  WsClient by_query(port(), {.target = "/ws/metrics?access_token=" + viewer});
  subscribe(by_query, {{"op", "subscribe"}, {"id", 1}, {"channels", {"metrics:autht"}}});
  // ... or in the header.
  EXPECT_NO_THROW(WsClient(port(), {.headers = {{"Authorization", "Bearer " + viewer}}}));
  // The query string (it carries the token) never reaches the log.
  EXPECT_EQ(daemon_->log().find(viewer), std::string::npos);
  EXPECT_EQ(daemon_->log().find(agent), std::string::npos);
}

TEST_F(StreamTest, RevokedTokenEndsTheStreamWith1008) {
  auto r = http_request(port(), "POST", "/api/v1/tokens", R"({"name":"revoked","role":"viewer"})",
                        {{"Content-Type", "application/json"}});
  ASSERT_EQ(r.status, 201) << r.body;
  auto created = json::parse(r.body);
  WsClient c(port(), {.target = "/ws/metrics?access_token=" + created["token"].get<std::string>()});
  subscribe(c, {{"op", "subscribe"}, {"id", 1}, {"channels", {"metrics:revt"}}});
  EXPECT_FALSE(c.wait_closed(1500ms)) << "closed while its token was still good";
  auto del = http_request(port(), "DELETE", "/api/v1/tokens/" + created["id"].dump());
  ASSERT_EQ(del.status / 100, 2) << del.body;
  EXPECT_EQ(c.wait_closed(5s), 1008);
  EXPECT_GE(wait_metric("metricsd_stream_closes_total{reason=\"unauthorized\"}", 1), 1);
}

TEST_F(StreamTest, CountersAppearInMetrics) {
  {
    WsClient c(port());
    subscribe(c, {{"op", "subscribe"}, {"id", 1}, {"channels", {"metrics:countt"}}});
    ASSERT_EQ(post_metrics("count-1", {{"countt.x", 1}, {"countt.y", 2}}).status, 200);
    EXPECT_EQ(collect(c, 2).size(), 2u);
    c.close();
    EXPECT_EQ(c.wait_closed(), 1000);
  }
  EXPECT_GE(wait_metric("metricsd_stream_closes_total{reason=\"client\"}", 1), 1);
  EXPECT_GE(metric_value(port(), "metricsd_stream_connections_total", 0), 1);
  EXPECT_GE(metric_value(port(), "metricsd_stream_messages_sent_total", 0), 3);
  EXPECT_GE(metric_value(port(), "metricsd_stream_samples_delivered_total", 0), 2);
  EXPECT_GE(metric_value(port(), "metricsd_stream_snapshots_total", 0), 1);
  EXPECT_EQ(metric_value(
                port(),
                "metricsd_http_requests_total{method=\"GET\",route=\"/ws/metrics\",status=\"101\"}",
                0) > 0,
            true);
}

}  // namespace
}  // namespace metricsd::test
