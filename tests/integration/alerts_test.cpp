// Alerts against the real daemon: rules managed over HTTP (a bad rule is a 400 naming the
// field, changes audited with old and new versions), samples written over HTTP fire,
// escalate and resolve threshold alerts with hysteresis, a flapping signal fires once, the
// history records each change, and a restart while firing resumes the alert without a
// second firing and still resolves it.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "harness.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class AlertsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    start();
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete dir_;
  }
  static void start() {
    daemon_ = new Daemon(dir_->path(), {});
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
  }
  static HttpResult call(const std::string& method, const std::string& target,
                         const std::string& body = "") {
    return http_request(daemon_->port(), method, target, body,
                        {{"Content-Type", "application/json"}});
  }
  static int64_t create_rule(const json& rule) {
    auto r = call("POST", "/api/v1/alerts/rules", rule.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return json::parse(r.body).value("id", int64_t{0});
  }
  static void write(const std::string& node, double v) {
    auto r = http_request(daemon_->port(), "POST", "/api/v1/write?precision=ms",
                          fmt::format("gpu,node={} temp_c={} {}\n", node, v, wall_ms()));
    ASSERT_EQ(r.status, 204) << r.body;
  }
  static json active() { return json::parse(call("GET", "/api/v1/alerts").body)["alerts"]; }
  static json history(const std::string& node) {
    return json::parse(call("GET", "/api/v1/alerts/history?node=" + node).body)["history"];
  }
  // The alert of `node`, once it is in `state` (null when it never got there).
  static json wait_state(const std::string& node, const std::string& state,
                         const std::string& severity = "") {
    json found;
    eventually(
        [&] {
          for (const auto& a : active())
            if (a["node"] == node && a["state"] == state &&
                (severity.empty() || a["severity"] == severity)) {
              found = a;
              return true;
            }
          return false;
        },
        15s);
    return found;
  }
  static bool gone(const std::string& node) {
    return eventually(
        [&] {
          for (const auto& a : active())
            if (a["node"] == node) return false;
          return true;
        },
        15s);
  }
  static size_t events(const std::string& node, const std::string& event) {
    size_t n = 0;
    for (const auto& h : history(node))
      n += h["event"] == event;
    return n;
  }
  static TempDir* dir_;
  static Daemon* daemon_;
};
TempDir* AlertsTest::dir_ = nullptr;
Daemon* AlertsTest::daemon_ = nullptr;

TEST_F(AlertsTest, BadRulesAreRefusedNamingTheField) {
  for (const auto& [body, field] : std::vector<std::pair<std::string, std::string>>{
           {R"({"name":"x","kind":"threshold","metric":"gpu.temp_c","agg":"p99",
               "levels":{"warning":1}})",
            "agg"},
           {R"({"name":"x","kind":"threshold","metric":"gpu.temp_c","window":"-1m",
               "levels":{"warning":1}})",
            "window"},
           {R"({"name":"x","kind":"threshold","metric":"gpu.temp_c"})", "levels"},
           {R"({"name":"x","kind":"sometimes"})", "kind"},
           {R"({"name":"x","kind":"threshold","metric":"gpu.temp_c","levels":{"warning":1},
               "enabled":"yes"})",
            "enabled"},
           {R"([1, 2])", "body"},
       }) {
    auto r = call("POST", "/api/v1/alerts/rules", body);
    EXPECT_EQ(r.status, 400) << body;
    auto j = json::parse(r.body, nullptr, false);
    EXPECT_NE(j.dump().find("\"" + field + "\""), std::string::npos) << r.body;
  }
  // A viewer reads rules but cannot write them.
  auto token = call("POST", "/api/v1/tokens", R"({"name":"alert-viewer","role":"viewer"})");
  ASSERT_EQ(token.status, 201) << token.body;
  std::string bearer = "Bearer " + json::parse(token.body)["token"].get<std::string>();
  auto r = http_request(daemon_->port(), "POST", "/api/v1/alerts/rules",
                        R"({"name":"v","kind":"node_loss"})", {{"Authorization", bearer}});
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(
      http_request(daemon_->port(), "GET", "/api/v1/alerts/rules", "", {{"Authorization", bearer}})
          .status,
      200);
}

TEST_F(AlertsTest, ThresholdFiresEscalatesAndResolvesPastTheClearLevel) {
  int64_t id = create_rule({{"name", "hot-a"},
                            {"kind", "threshold"},
                            {"metric", "gpu.temp_c"},
                            {"node", "alert-a"},
                            {"levels", {{"warning", 70}, {"critical", 80}}},
                            {"clear", 65}});
  ASSERT_GT(id, 0);
  // A second rule with the same name is a conflict.
  EXPECT_EQ(call("POST", "/api/v1/alerts/rules", R"({"name":"hot-a","kind":"node_loss"})").status,
            409);
  write("alert-a", 60);
  write("alert-a", 72);
  json a = wait_state("alert-a", "firing", "warning");
  ASSERT_FALSE(a.is_null()) << active().dump();
  EXPECT_EQ(a["rule_id"], id);
  EXPECT_EQ(a["value"], 72);
  write("alert-a", 85);
  ASSERT_FALSE(wait_state("alert-a", "firing", "critical").is_null()) << active().dump();
  write("alert-a", 68);  // under both levels, above clear: still firing
  write("alert-a", 64);
  ASSERT_TRUE(gone("alert-a")) << active().dump();
  EXPECT_EQ(events("alert-a", "firing"), 1u);
  EXPECT_EQ(events("alert-a", "escalated"), 1u);
  EXPECT_EQ(events("alert-a", "resolved"), 1u);
  // The audit log has the rule's creation with its new version.
  auto audit = json::parse(call("GET", "/api/v1/audit?action=alert_rule.create").body);
  EXPECT_NE(audit.dump().find("hot-a"), std::string::npos) << audit.dump();
}

TEST_F(AlertsTest, AFlappingSignalFiresOnce) {
  create_rule({{"name", "flap"},
               {"kind", "threshold"},
               {"metric", "gpu.temp_c"},
               {"node", "alert-f"},
               {"levels", {{"warning", 80}}},
               {"clear", 75}});
  double before = metric_value(daemon_->port(), "metricsd_alert_samples_total", 0);
  for (int i = 0; i < 20; ++i)
    write("alert-f", i % 2 ? 80.5 : 79.5);
  ASSERT_FALSE(wait_state("alert-f", "firing").is_null());
  // Every one of the 20 samples evaluated (with the other tests' samples, at least 20).
  ASSERT_TRUE(eventually(
      [&] {
        return metric_value(daemon_->port(), "metricsd_alert_samples_total", 0) >= before + 20;
      },
      10s));
  EXPECT_EQ(events("alert-f", "firing"), 1u) << history("alert-f").dump();
  EXPECT_EQ(events("alert-f", "resolved"), 0u);
}

TEST_F(AlertsTest, ARestartWhileFiringResumesWithoutASecondFiring) {
  int64_t id = create_rule({{"name", "restart"},
                            {"kind", "threshold"},
                            {"metric", "gpu.temp_c"},
                            {"node", "alert-r"},
                            {"levels", {{"critical", 90}}}});
  write("alert-r", 95);
  ASSERT_FALSE(wait_state("alert-r", "firing").is_null());
  daemon_->signal(SIGTERM);
  ASSERT_EQ(daemon_->wait_exit(30s), 0);
  delete daemon_;
  start();
  EXPECT_FALSE(wait_state("alert-r", "firing").is_null());
  write("alert-r", 96);  // still hot: nothing new
  write("alert-r", 50);
  ASSERT_TRUE(gone("alert-r")) << active().dump();
  EXPECT_EQ(events("alert-r", "firing"), 1u) << history("alert-r").dump();
  EXPECT_EQ(events("alert-r", "resolved"), 1u);
  // Changing the rule is audited with both versions; deleting it keeps its history.
  auto r = call("PUT", "/api/v1/alerts/rules/" + std::to_string(id),
                R"({"name":"restart","kind":"threshold","metric":"gpu.temp_c",
                    "node":"alert-r","levels":{"critical":99}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["version"], 2);
  auto audit = call("GET", "/api/v1/audit?action=alert_rule.update").body;
  EXPECT_NE(audit.find("old"), std::string::npos) << audit;
  EXPECT_NE(audit.find("99"), std::string::npos) << audit;
  EXPECT_EQ(call("DELETE", "/api/v1/alerts/rules/" + std::to_string(id)).status, 200);
  EXPECT_EQ(call("DELETE", "/api/v1/alerts/rules/" + std::to_string(id)).status, 404);
  EXPECT_EQ(events("alert-r", "firing"), 1u);
}

}  // namespace
}  // namespace metricsd::test
