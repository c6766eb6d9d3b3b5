// What alert notifications are made of: silences (parsed, bad fields named, matched by
// rule, node and severity within their span), receivers (parsed, bad fields named, what
// each wants, secrets hidden and kept), and the webhook body and e-mail texts.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/alert_rule.hpp"
#include "core/alert_silence.hpp"
#include "notify/alert_message.hpp"
#include "notify/alert_receiver.hpp"

namespace metricsd {
namespace {

using nlohmann::json;

constexpr int64_t kNow = 1'800'000'000'000;

template <class Fn>
std::string field_of(Fn fn) {
  try {
    fn();
  } catch (const AlertRuleError& e) {
    return e.field;
  }
  return "(accepted)";
}

AlertTransition transition(const char* rule, const char* node, const char* severity,
                           const char* event = "firing") {
  return {1, rule, node, event, severity, 81.5, kNow};
}

TEST(AlertSilence, MatchesByRuleNodeAndSeverityWithinItsSpan) {
  auto s = parse_alert_silence(
      json::parse(R"({"matchers":{"rule":"gpu *","node":"rack1-*"},"duration":"2h",
                      "comment":"fan swap"})"),
      kNow);
  EXPECT_EQ(s.starts_ms, kNow);
  EXPECT_EQ(s.ends_ms, kNow + 7'200'000);
  EXPECT_TRUE(s.matches(transition("gpu hot", "rack1-07", "critical"), kNow + 1000));
  EXPECT_FALSE(s.matches(transition("gpu hot", "rack2-07", "critical"), kNow + 1000));
  EXPECT_FALSE(s.matches(transition("disk full", "rack1-07", "critical"), kNow + 1000));
  EXPECT_FALSE(s.matches(transition("gpu hot", "rack1-07", "critical"), kNow + 7'200'000));
  auto sev = parse_alert_silence(
      json::parse(R"({"matchers":{"severity":"warning"},"starts_at":"2027-02-01T08:00:00Z",
                      "ends_at":"2027-02-01T10:00:00Z"})"),
      kNow);
  EXPECT_FALSE(sev.active(kNow));  // starts later
  EXPECT_TRUE(sev.active(sev.starts_ms));
  EXPECT_FALSE(sev.matches(transition("x", "n", "critical"), sev.starts_ms));
  EXPECT_TRUE(sev.matches(transition("x", "n", "warning"), sev.starts_ms));
}

TEST(AlertSilence, BadFieldsAreNamed) {
  auto f = [](const char* text) {
    return field_of([&] { parse_alert_silence(json::parse(text), kNow); });
  };
  EXPECT_EQ(f(R"({"duration":"1h"})"), "matchers");
  EXPECT_EQ(f(R"({"matchers":{},"duration":"1h"})"), "matchers");
  EXPECT_EQ(f(R"({"matchers":{"host":"x"},"duration":"1h"})"), "matchers.host");
  EXPECT_EQ(f(R"({"matchers":{"rule":""},"duration":"1h"})"), "matchers.rule");
  EXPECT_EQ(f(R"({"matchers":{"severity":"huge"},"duration":"1h"})"), "matchers.severity");
  EXPECT_EQ(f(R"({"matchers":{"rule":"x"}})"), "ends_at");
  EXPECT_EQ(f(R"({"matchers":{"rule":"x"},"duration":"1h","ends_at":"2030-01-01T00:00:00Z"})"),
            "ends_at");
  EXPECT_EQ(f(R"({"matchers":{"rule":"x"},"duration":"-1h"})"), "duration");
  EXPECT_EQ(f(R"({"matchers":{"rule":"x"},"duration":"100d"})"), "duration");
  EXPECT_EQ(f(R"({"matchers":{"rule":"x"},"ends_at":"2020-01-01T00:00:00Z"})"), "ends_at");
  EXPECT_EQ(f(R"({"matchers":{"rule":"x"},"ends_at":"tomorrow"})"), "ends_at");
  EXPECT_EQ(f(R"({"matchers":{"rule":"x"},"duration":"1h","comment":7})"), "comment");
  EXPECT_EQ(f(R"({"matchers":{"rule":"x"},"duration":"1h","who":"me"})"), "who");
}

TEST(AlertReceiver, ParsesFiltersAndHidesSecrets) {
  auto r = notify::parse_alert_receiver(
      json::parse(R"({"name":"oncall","kind":"webhook","url":"https://hooks.example.com/a?b=1",
                      "headers":{"X-Api-Key":"k1"},"secret":"s3cret","timeout":"2s",
                      "severities":["critical"],"rules":["gpu *"],"send_resolved":false})"),
      false);
  EXPECT_EQ(r.timeout_ms, 2000);
  EXPECT_TRUE(r.wants(transition("gpu hot", "n1", "critical")));
  EXPECT_TRUE(r.wants(transition("gpu hot", "n1", "critical", "escalated")));
  EXPECT_FALSE(r.wants(transition("gpu hot", "n1", "critical", "resolved")));
  EXPECT_FALSE(r.wants(transition("gpu hot", "n1", "critical", "pending")));
  EXPECT_FALSE(r.wants(transition("gpu hot", "n1", "warning")));
  EXPECT_FALSE(r.wants(transition("disk full", "n1", "critical")));
  json shown = notify::alert_receiver_json(r, false);
  EXPECT_EQ(shown["secret"], notify::kHiddenValue);
  EXPECT_EQ(shown["headers"]["X-Api-Key"], notify::kHiddenValue);
  EXPECT_EQ(shown.dump().find("s3cret"), std::string::npos);
  // Given back as shown, the stored values stay.
  auto again = notify::parse_alert_receiver(shown, false);
  notify::keep_hidden_values(again, r);
  EXPECT_EQ(again.secret, "s3cret");
  EXPECT_EQ(again.headers[0].second, "k1");
  EXPECT_EQ(notify::alert_receiver_json(again, true), notify::alert_receiver_json(r, true));
}

TEST(AlertReceiver, BadFieldsAreNamed) {
  auto f = [](const char* text, bool email = true) {
    return field_of([&] { notify::parse_alert_receiver(json::parse(text), email); });
  };
  EXPECT_EQ(f(R"({"kind":"webhook","url":"http://x"})"), "name");
  EXPECT_EQ(f(R"({"name":"a","kind":"pager","url":"http://x"})"), "kind");
  EXPECT_EQ(f(R"({"name":"a","kind":"webhook"})"), "url");
  EXPECT_EQ(f(R"({"name":"a","kind":"webhook","url":"ftp://x/y"})"), "url");
  EXPECT_EQ(f(R"({"name":"a","kind":"webhook","url":"http://u:p@x/"})"), "url");
  EXPECT_EQ(f(R"({"name":"a","kind":"webhook","url":"http://x","headers":{"Host":"y"}})"),
            "headers.Host");
  EXPECT_EQ(f(R"({"name":"a","kind":"webhook","url":"http://x","headers":{"X":"a\nb"}})"),
            "headers.X");
  EXPECT_EQ(f(R"({"name":"a","kind":"webhook","url":"http://x","timeout":"10m"})"), "timeout");
  EXPECT_EQ(f(R"({"name":"a","kind":"webhook","url":"http://x","to":["a@b.c"]})"), "to");
  EXPECT_EQ(f(R"({"name":"a","kind":"webhook","url":"http://x","severities":["loud"]})"),
            "severities");
  EXPECT_EQ(f(R"({"name":"a","kind":"webhook","url":"http://x","max_attempts":0})"),
            "max_attempts");
  EXPECT_EQ(f(R"({"name":"a","kind":"email","to":["ops@example.com"]})", false), "kind");
  EXPECT_EQ(f(R"({"name":"a","kind":"email"})"), "to");
  EXPECT_EQ(f(R"({"name":"a","kind":"email","to":["not an address"]})"), "to");
  EXPECT_EQ(f(R"({"name":"a","kind":"email","to":["a@b.c"],"url":"http://x"})"), "url");
  EXPECT_EQ(f(R"({"name":"a","kind":"email","to":["a@b.c"],"colour":"red"})"), "colour");
  EXPECT_EQ(f(R"({"name":"a","kind":"email","to":["a@b.c"]})"), "(accepted)");
}

TEST(AlertMessage, TheWebhookBodyAndTheMailSayWhatHappened) {
  notify::AlertNotification n{42, transition("gpu hot", "gpu-07", "critical"), "Check the fans."};
  json body = json::parse(notify::webhook_body(n));
  EXPECT_EQ(body["version"], 1);
  EXPECT_EQ(body["id"], 42);
  EXPECT_EQ(body["event"], "firing");
  EXPECT_EQ(body["state"], "firing");
  EXPECT_EQ(body["rule"]["name"], "gpu hot");
  EXPECT_EQ(body["rule"]["description"], "Check the fans.");
  EXPECT_EQ(body["node"], "gpu-07");
  EXPECT_EQ(body["severity"], "critical");
  EXPECT_EQ(body["value"], 81.5);
  EXPECT_EQ(body["summary"], "CRITICAL firing: gpu hot on gpu-07 (81.5)");
  EXPECT_EQ(notify::email_subject(n), "[metricsd] CRITICAL firing: gpu hot on gpu-07 (81.5)");
  std::string mail = notify::email_body(n);
  EXPECT_NE(mail.find("Check the fans."), std::string::npos);
  EXPECT_NE(mail.find("Notification 42"), std::string::npos);
  n.t.event = "resolved";
  n.t.value = std::nan("");
  body = json::parse(notify::webhook_body(n));
  EXPECT_EQ(body["state"], "resolved");
  EXPECT_TRUE(body["value"].is_null());
}

}  // namespace
}  // namespace metricsd
