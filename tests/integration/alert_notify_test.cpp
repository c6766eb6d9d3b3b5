// Alert notifications against the real daemon, with a real HTTP receiver and a real SMTP
// sink started by the test: webhooks signed with HMAC-SHA256 for firing and resolve, a
// failing receiver retried while a hanging one delays nobody, silences and the cooldown
// recorded instead of sent, acknowledgements, the stream's `alerts` channel, e-mail, a
// notification queued at a restart delivered after it (once), and rules from a rules file.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <openssl/hmac.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/clock.hpp"
#include "harness.hpp"
#include "smtp_sink.hpp"
#include "webhook_receiver.hpp"
#include "ws_client.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string hmac_hex(const std::string& key, const std::string& msg) {
  unsigned char out[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out, &len);
  std::string hex;
  for (unsigned i = 0; i < len; ++i)
    hex += fmt::format("{:02x}", out[i]);
  return hex;
}

HttpResult call(const Daemon& d, const std::string& method, const std::string& target,
                const json& body = nullptr) {
  return http_request(d.port(), method, target, body.is_null() ? "" : body.dump(),
                      {{"Content-Type", "application/json"}});
}

int64_t create(const Daemon& d, const std::string& what, const json& body) {
  auto r = call(d, "POST", "/api/v1/alerts/" + what, body);
  EXPECT_EQ(r.status, 201) << r.body;
  return json::parse(r.body, nullptr, false).value("id", int64_t{0});
}

void write(const Daemon& d, const std::string& node, double v,
           const std::string& metric = "temp_c") {
  auto r = http_request(d.port(), "POST", "/api/v1/write?precision=ms",
                        fmt::format("gpu,node={} {}={} {}\n", node, metric, v, wall_ms()));
  ASSERT_EQ(r.status, 204) << r.body;
}

json history(const Daemon& d, const std::string& node) {
  return json::parse(call(d, "GET", "/api/v1/alerts/history?node=" + node).body)["history"];
}

// The newest history entry of `node` with `event`, once there are `count` such entries and
// its notifications all have an outcome other than queued (null if that never happens).
json settled(const Daemon& d, const std::string& node, const std::string& event, size_t count = 1) {
  json found;
  eventually(
      [&] {
        json newest;
        size_t n = 0;
        json all = history(d, node);
        for (const auto& h : all)
          if (h["event"] == event && n++ == 0) newest = h;
        if (n < count) return false;
        for (const auto& note : newest["notifications"])
          if (note["state"] == "queued") return false;
        found = newest;
        return true;
      },
      15s);
  return found;
}

json rule(const std::string& name, const std::string& node, const std::string& cooldown = "0s") {
  return {{"name", name},
          {"kind", "threshold"},
          {"metric", "gpu.temp_c"},
          {"node", node},
          {"levels", {{"warning", 70}, {"critical", 80}}},
          {"clear", 60},
          {"cooldown", cooldown},
          {"description", "Check the fans of " + node + "."}};
}

json webhook(const std::string& name, const WebhookReceiver& rx, const std::string& node,
             json extra = json::object()) {
  json j = {
      {"name", name}, {"kind", "webhook"}, {"url", rx.url("/hook/" + name)}, {"nodes", {node}}};
  j.update(extra);
  return j;
}

class AlertNotifyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    daemon_ = new Daemon(dir_->path(), {});
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete dir_;
  }
  static const Daemon& d() { return *daemon_; }
  static TempDir* dir_;
  static Daemon* daemon_;
};
TempDir* AlertNotifyTest::dir_ = nullptr;
Daemon* AlertNotifyTest::daemon_ = nullptr;

TEST_F(AlertNotifyTest, WebhooksAreSignedAndSayFiringEscalatedAndResolved) {
  WebhookReceiver rx;
  create(
      d(), "receivers",
      webhook("signed", rx, "wh-1", {{"secret", "s3cret"}, {"headers", {{"X-Api-Key", "k-123"}}}}));
  int64_t rule_id = create(d(), "rules", rule("wh hot", "wh-1"));
  write(d(), "wh-1", 75);
  ASSERT_TRUE(rx.wait_for(1, 15s));
  write(d(), "wh-1", 85);
  ASSERT_TRUE(rx.wait_for(2, 15s));
  write(d(), "wh-1", 50);
  ASSERT_TRUE(rx.wait_for(3, 15s));
  auto got = rx.received();
  ASSERT_EQ(got.size(), 3u);
  std::vector<std::string> events;
  for (const auto& r : got) {
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/hook/signed");
    EXPECT_EQ(r.headers.at("content-type"), "application/json");
    EXPECT_EQ(r.headers.at("x-api-key"), "k-123");
    // The signature covers the timestamp and the body.
    EXPECT_EQ(r.headers.at("x-metricsd-signature"),
              "sha256=" + hmac_hex("s3cret", r.headers.at("x-metricsd-timestamp") + "." + r.body));
    json body = json::parse(r.body);
    EXPECT_EQ(body["rule"]["id"], rule_id);
    EXPECT_EQ(body["rule"]["description"], "Check the fans of wh-1.");
    EXPECT_EQ(body["node"], "wh-1");
    EXPECT_EQ(r.headers.at("x-metricsd-event"), body["event"]);
    EXPECT_EQ(r.headers.at("x-metricsd-delivery"), std::to_string(body["id"].get<int64_t>()));
    events.push_back(body["event"].get<std::string>() + " " + body["severity"].get<std::string>());
  }
  EXPECT_EQ(events, (std::vector<std::string>{"firing warning", "escalated critical",
                                              "resolved critical"}));
  // The history says where each went and how it went.
  json fired = settled(d(), "wh-1", "firing");
  ASSERT_EQ(fired["notifications"].size(), 1u) << fired.dump();
  EXPECT_EQ(fired["notifications"][0]["receiver"], "signed");
  EXPECT_EQ(fired["notifications"][0]["state"], "sent");
  EXPECT_EQ(fired["notifications"][0]["attempts"], 1);
  // Receivers are shown with their secrets hidden.
  auto list = call(d(), "GET", "/api/v1/alerts/receivers");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body.find("s3cret"), std::string::npos) << list.body;
  EXPECT_EQ(list.body.find("k-123"), std::string::npos) << list.body;
}

TEST_F(AlertNotifyTest, AFailingReceiverIsRetriedAndAHangingOneDelaysNobody) {
  WebhookReceiver flaky({.status = 503});
  WebhookReceiver hung({.hang = true});
  WebhookReceiver fine;
  create(d(), "receivers", webhook("flaky", flaky, "rt-1"));
  create(d(), "receivers",
         webhook("hung", hung, "rt-1", {{"timeout", "300ms"}, {"max_attempts", 2}}));
  create(d(), "receivers",
         webhook("refused", fine, "rt-1", {{"url", "http://127.0.0.1:1/x"}, {"max_attempts", 1}}));
  create(d(), "receivers", webhook("fine", fine, "rt-1"));
  create(d(), "rules", rule("rt hot", "rt-1"));
  write(d(), "rt-1", 75);
  ASSERT_TRUE(fine.wait_for(1, 15s));  // while `hung` holds its own delivery
  ASSERT_TRUE(flaky.wait_for(1, 15s));
  flaky.set_status(200);
  ASSERT_TRUE(flaky.wait_for(2, 15s));  // the retry, after a backoff of 0.5 to 1.5 s
  json fired = settled(d(), "rt-1", "firing");
  ASSERT_FALSE(fired.is_null()) << history(d(), "rt-1").dump();
  std::map<std::string, json> by;
  for (const auto& n : fired["notifications"])
    by[n["receiver"].get<std::string>()] = n;
  EXPECT_EQ(by["fine"]["state"], "sent");
  EXPECT_EQ(by["flaky"]["state"], "sent");
  EXPECT_EQ(by["flaky"]["attempts"], 2);
  EXPECT_EQ(by["hung"]["state"], "failed");
  EXPECT_EQ(by["hung"]["attempts"], 2);
  EXPECT_NE(by["hung"]["detail"].get<std::string>().find("timed out"), std::string::npos)
      << by["hung"].dump();
  EXPECT_EQ(by["refused"]["state"], "failed");
  EXPECT_EQ(by["refused"]["attempts"], 1);
  EXPECT_GE(
      metric_value(d().port(),
                   "metricsd_alert_notifications_total{kind=\"webhook\",outcome=\"failed\"}", 0),
      2);
  EXPECT_GE(metric_value(d().port(), "metricsd_alert_notification_retries_total", 0), 2);
}

TEST_F(AlertNotifyTest, SilencesAndTheCooldownAreRecordedNotSent) {
  WebhookReceiver rx;
  create(d(), "receivers", webhook("quiet", rx, "si-*"));
  create(d(), "rules", rule("si hot", "si-1", "1h"));
  create(d(), "rules", rule("si hot 2", "si-2"));
  // A silence on si-2: its firing is recorded as silenced.
  auto bad = call(d(), "POST", "/api/v1/alerts/silences", {{"matchers", {{"node", "si-2"}}}});
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_NE(bad.body.find("ends_at"), std::string::npos) << bad.body;
  int64_t silence =
      create(d(), "silences",
             {{"matchers", {{"node", "si-2"}}}, {"duration", "1h"}, {"comment", "maintenance"}});
  write(d(), "si-2", 75);
  json silenced = settled(d(), "si-2", "firing");
  ASSERT_EQ(silenced["notifications"].size(), 1u) << silenced.dump();
  EXPECT_EQ(silenced["notifications"][0]["state"], "silenced");
  EXPECT_EQ(silenced["notifications"][0]["detail"], "silence " + std::to_string(silence));
  // Its resolve is not notified either (nobody was told it fired).
  write(d(), "si-2", 50);
  json resolved = settled(d(), "si-2", "resolved");
  EXPECT_TRUE(resolved["notifications"].empty()) << resolved.dump();
  auto list = json::parse(call(d(), "GET", "/api/v1/alerts/silences").body)["silences"];
  ASSERT_FALSE(list.empty());
  EXPECT_EQ(list[0]["id"], silence);
  EXPECT_EQ(list[0]["active"], true);
  EXPECT_EQ(call(d(), "DELETE", "/api/v1/alerts/silences/" + std::to_string(silence)).status, 200);
  EXPECT_EQ(call(d(), "DELETE", "/api/v1/alerts/silences/" + std::to_string(silence)).status, 404);
  auto audit = call(d(), "GET", "/api/v1/audit?limit=200").body;
  EXPECT_NE(audit.find("alert_silence.create"), std::string::npos);
  EXPECT_NE(audit.find("alert_silence.expire"), std::string::npos);

  // si-1 fires (notified), resolves (notified), fires again within its 1 h cooldown:
  // recorded as cooldown, and so is nothing of its resolve.
  write(d(), "si-1", 75);
  ASSERT_TRUE(rx.wait_for(1, 15s));
  write(d(), "si-1", 50);
  ASSERT_TRUE(rx.wait_for(2, 15s));
  write(d(), "si-1", 75);
  json again = settled(d(), "si-1", "firing", 2);
  ASSERT_EQ(again["notifications"].size(), 1u) << again.dump();
  EXPECT_EQ(again["notifications"][0]["state"], "cooldown");
  write(d(), "si-1", 50);
  json quiet = settled(d(), "si-1", "resolved", 2);
  ASSERT_NE(quiet["id"], json(nullptr));
  EXPECT_TRUE(quiet["notifications"].empty()) << quiet.dump();
  EXPECT_EQ(rx.received().size(), 2u);
}

TEST_F(AlertNotifyTest, AcknowledgementsAreRecordedAndStreamed) {
  int64_t rule_id = create(d(), "rules", rule("ack hot", "ack-1"));
  WsClient ws(d().port());
  ws.send_json({{"op", "subscribe"}, {"id", 1}, {"channels", {"alerts"}}});
  auto snap = ws.next_of("alerts");
  ASSERT_TRUE(snap) << "no alerts snapshot";
  EXPECT_EQ((*snap)["id"], 1);
  EXPECT_TRUE((*snap)["alerts"].is_array());
  write(d(), "ack-1", 90);
  std::optional<json> msg;
  for (int i = 0; i < 20; ++i) {
    msg = ws.next_of("alert", 15s);
    if (!msg || (*msg)["alert"]["node"] == "ack-1") break;
  }
  ASSERT_TRUE(msg);
  EXPECT_EQ((*msg)["alert"]["event"], "firing");
  EXPECT_EQ((*msg)["alert"]["severity"], "critical");
  EXPECT_EQ((*msg)["alert"]["rule_id"], rule_id);

  auto r = call(d(), "POST", "/api/v1/alerts/ack",
                {{"rule_id", rule_id}, {"node", "ack-1"}, {"comment", "on it"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(
      call(d(), "POST", "/api/v1/alerts/ack", {{"rule_id", rule_id}, {"node", "nope"}}).status,
      404);
  EXPECT_EQ(call(d(), "POST", "/api/v1/alerts/ack", {{"node", "ack-1"}}).status, 400);
  json acked, all = json::parse(call(d(), "GET", "/api/v1/alerts").body)["alerts"];
  for (const auto& a : all)
    if (a["node"] == "ack-1") acked = a;
  EXPECT_FALSE(acked["acknowledged_by"].is_null()) << acked.dump();
  json h = history(d(), "ack-1");
  ASSERT_FALSE(h.empty());
  EXPECT_EQ(h[0]["event"], "acknowledged");
  EXPECT_NE(h[0]["detail"].get<std::string>().find("on it"), std::string::npos);
  for (int i = 0; i < 20; ++i) {
    msg = ws.next_of("alert", 15s);
    if (!msg || (*msg)["alert"]["event"] == "acknowledged") break;
  }
  ASSERT_TRUE(msg);
  EXPECT_EQ((*msg)["alert"]["node"], "ack-1");
  // A later subscriber's snapshot shows it, acknowledged.
  WsClient late(d().port());
  late.send_json({{"op", "subscribe"}, {"channels", {"alerts"}}, {"nodes", {"ack-1"}}});
  auto snap2 = late.next_of("alerts");
  ASSERT_TRUE(snap2);
  ASSERT_EQ((*snap2)["alerts"].size(), 1u) << snap2->dump();
  EXPECT_EQ((*snap2)["alerts"][0]["state"], "firing");
  EXPECT_FALSE((*snap2)["alerts"][0]["acknowledged_by"].is_null());
}

// E-mail through a local SMTP sink; a notification still queued when the daemon stops is
// delivered after the restart, once.
TEST(AlertNotify, EmailAndNotificationsQueuedAtARestart) {
  SmtpSink sink;
  TempDir dir;
  std::vector<std::string> args = {"--alerts-smtp-url",
                                   fmt::format("smtp+plain://127.0.0.1:{}", sink.port()),
                                   "--alerts-smtp-from", "fleet <fleet@example.com>"};
  WebhookReceiver later({.status = 503});
  {
    Daemon d(dir.path(), args);
    ASSERT_TRUE(d.wait_ready()) << d.log();
    create(d, "receivers",
           {{"name", "ops mail"},
            {"kind", "email"},
            {"to", {"ops@example.com"}},
            {"severities", {"critical"}}});
    create(
        d, "receivers",
        {{"name", "later"}, {"kind", "webhook"}, {"url", later.url("/l")}, {"max_attempts", 20}});
    create(d, "rules", rule("mail hot", "m-1"));
    write(d, "m-1", 90);
    ASSERT_TRUE(sink.wait_for(1, 15s)) << d.log();
    auto mail = sink.messages()[0];
    EXPECT_EQ(mail.from, "fleet@example.com");
    EXPECT_EQ(mail.to, std::vector<std::string>{"ops@example.com"});
    EXPECT_NE(mail.data.find("Subject: [metricsd] CRITICAL firing: mail hot on m-1"),
              std::string::npos)
        << mail.data;
    EXPECT_NE(mail.data.find("Check the fans of m-1."), std::string::npos);
    ASSERT_TRUE(later.wait_for(1, 15s));  // refused: it stays queued, backing off
    ASSERT_TRUE(eventually([&] {
      for (const auto& h : history(d, "m-1"))
        for (const auto& n : h["notifications"])
          if (n["receiver"] == "ops mail" && n["state"] == "sent") return true;
      return false;
    }));
    d.signal(SIGTERM);
    ASSERT_EQ(d.wait_exit(30s), 0) << d.log();
  }
  later.set_status(200);
  size_t before = later.received().size();
  Daemon d(dir.path(), args);
  ASSERT_TRUE(d.wait_ready()) << d.log();
  ASSERT_TRUE(later.wait_for(before + 1, 15s));
  json fired = settled(d, "m-1", "firing");
  std::map<std::string, json> by;
  for (const auto& n : fired["notifications"])
    by[n["receiver"].get<std::string>()] = n;
  EXPECT_EQ(by["ops mail"]["state"], "sent");
  EXPECT_EQ(by["later"]["state"], "sent");
  EXPECT_EQ(sink.messages().size(), 1u);  // the firing was not repeated by the restart
  // Exactly one more delivery after the restart.
  write(d, "m-1", 91);  // no transition: nothing more
  EXPECT_EQ(later.received().size(), before + 1);
}

// A node that goes stale then offline gets one node_loss alert (its rule picks generation
// nodes by their registered type) and no threshold or absence noise; back online, the
// alert resolves.
TEST(AlertNotify, ALostNodeGetsOneNodeLossAlertAndNoOtherNoise) {
  TempDir dir;
  Daemon d(dir.path(), {"--nodes-stale-after-s", "1", "--nodes-offline-after-s", "2"});
  ASSERT_TRUE(d.wait_ready()) << d.log();
  WebhookReceiver rx;
  create(d, "receivers", {{"name", "rx"}, {"kind", "webhook"}, {"url", rx.url("/h")}});
  create(d, "rules",
         {{"name", "gen lost"},
          {"kind", "node_loss"},
          {"statuses", {"stale", "offline"}},
          {"node_type", "generation"},
          {"cooldown", "0s"}});
  create(d, "rules",
         {{"name", "quiet"},
          {"kind", "absence"},
          {"metric", "gpu.temp_c"},
          {"for", "3s"},
          {"cooldown", "0s"}});
  create(d, "rules",
         {{"name", "warm"},
          {"kind", "threshold"},
          {"metric", "gpu.temp_c"},
          {"levels", {{"warning", 70}}},
          {"cooldown", "0s"}});
  auto heartbeat = [&](const std::string& node, const json& body) {
    auto r = http_request(d.port(), "POST", "/api/v1/nodes/" + node + "/heartbeat", body.dump(),
                          {{"Content-Type", "application/json"}});
    ASSERT_EQ(r.status, 200) << r.body;
  };
  heartbeat("lost-1", {{"type", "generation"}});
  heartbeat("lost-2", {{"type", "training"}});
  // The evaluator learns node types when it reloads (at most 10 s, or at a rule change).
  create(d, "rules", {{"name", "reload"}, {"kind", "node_loss"}, {"node", "nobody"}});
  write(d, "lost-1", 50);
  write(d, "lost-2", 50);
  auto status_of = [&](const std::string& node) {
    return json::parse(http_request(d.port(), "GET", "/api/v1/nodes/" + node).body)["status"];
  };
  ASSERT_TRUE(eventually([&] { return status_of("lost-1") == "offline"; }, 15s));
  ASSERT_TRUE(rx.wait_for(1, 15s));
  // Past the absence rule's 3 s (a bound stated by the rule): still that one alert.
  std::this_thread::sleep_for(4s);
  auto got = rx.received();
  ASSERT_EQ(got.size(), 1u);
  json body = json::parse(got[0].body);
  EXPECT_EQ(body["rule"]["name"], "gen lost");
  EXPECT_EQ(body["node"], "lost-1");
  EXPECT_EQ(body["event"], "firing");
  for (const auto& h : history(d, "lost-2"))
    ADD_FAILURE() << h.dump();  // not a generation node
  for (const auto& h : history(d, "lost-1"))
    EXPECT_EQ(h["rule"], "gen lost") << h.dump();
  // Back: a sample, then a heartbeat; the node_loss alert resolves and nothing else fires.
  write(d, "lost-1", 50);
  heartbeat("lost-1", json::object());
  ASSERT_TRUE(rx.wait_for(2, 15s));
  body = json::parse(rx.received()[1].body);
  EXPECT_EQ(body["rule"]["name"], "gen lost");
  EXPECT_EQ(body["event"], "resolved");
}

TEST(AlertNotify, RulesFromARulesFileAreAppliedAtStartAndOnSighup) {
  TempDir dir;
  std::string file = (dir.path() / "rules.jsonl").string();
  {
    std::ofstream(file)
        << "# fleet rules\n"
        << R"({"name":"file hot","kind":"threshold","metric":"gpu.temp_c","levels":{"warning":70}})"
        << "\n"
        << R"({"name":"file lost","kind":"node_loss"})"
        << "\n";
  }
  Daemon d(dir.path() / "data", {"--alerts-rules-file", file});
  ASSERT_TRUE(d.wait_ready()) << d.log();
  json rules;
  ASSERT_TRUE(eventually([&] {
    rules = json::parse(call(d, "GET", "/api/v1/alerts/rules").body)["rules"];
    return rules.size() == 2;
  }));
  EXPECT_EQ(rules[0]["source"], "file");
  int64_t id = rules[0]["id"];
  // Changed through the file only.
  auto put = call(d, "PUT", "/api/v1/alerts/rules/" + std::to_string(id),
                  {{"name", "file hot"}, {"kind", "node_loss"}});
  EXPECT_EQ(put.status, 409) << put.body;
  EXPECT_EQ(call(d, "DELETE", "/api/v1/alerts/rules/" + std::to_string(id)).status, 409);
  {
    std::ofstream(file)
        << R"({"name":"file hot","kind":"threshold","metric":"gpu.temp_c","levels":{"warning":75}})"
        << "\n";
  }
  d.signal(SIGHUP);
  ASSERT_TRUE(eventually([&] {
    rules = json::parse(call(d, "GET", "/api/v1/alerts/rules").body)["rules"];
    return rules.size() == 1 && rules[0]["levels"]["warning"] == 75;
  })) << rules.dump();
  EXPECT_EQ(rules[0]["version"], 2);
  // A bad file at start stops the daemon, naming the line.
  { std::ofstream(file) << "\n{\"name\":\"x\",\"kind\":\"threshold\"}\n"; }
  std::string out;
  EXPECT_EQ(Daemon::run(
                {"serve", "--data-dir", (dir.path() / "bad").string(), "--alerts-rules-file", file},
                &out),
            2);
  EXPECT_NE(out.find("alerts.rules_file"), std::string::npos) << out;
  EXPECT_NE(out.find("line 2: metric"), std::string::npos) << out;
}

}  // namespace
}  // namespace metricsd::test
