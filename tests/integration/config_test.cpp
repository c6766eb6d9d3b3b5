// GET /api/v1/config and POST /api/v1/config/update: the settings as the daemon runs
// them, and changes to retention, node thresholds and the stream flush interval that
// take effect at once (the node monitor, ingest's time bounds), are audited, and are
// refused whole when any part is wrong. Masked database passwords need an external
// database: ExternalDb.ConfigMasksTheDatabasePasswords.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <thread>

#include "stream_support.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class ConfigTest : public StreamBase {
 protected:
  static void SetUpTestSuite() {
    start({"--nodes-stale-after-s", "30", "--database-embedded-shared-buffers", "48MiB"});
  }
  static void TearDownTestSuite() { stop(); }
  static json get_config() {
    auto r = http_request(port(), "GET", "/api/v1/config");
    EXPECT_EQ(r.status, 200) << r.body;
    return json::parse(r.body, nullptr, false);
  }
  static HttpResult update(const json& settings,
                           std::vector<std::pair<std::string, std::string>> headers = {}) {
    headers.emplace_back("Content-Type", "application/json");
    return http_request(port(), "POST", "/api/v1/config/update",
                        json{{"settings", settings}}.dump(), headers);
  }
  static std::string status_of(const std::string& node) {
    auto r = http_request(port(), "GET", "/api/v1/nodes/" + node);
    return json::parse(r.body, nullptr, false).value("status", "");
  }
  static void expect_400(const HttpResult& r, const std::string& field, const std::string& part) {
    EXPECT_EQ(r.status, 400) << r.body;
    auto j = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << r.body;
    EXPECT_EQ(j["error"]["details"][0].value("field", ""), field) << r.body;
    EXPECT_NE(j["error"]["message"].get<std::string>().find(part), std::string::npos) << r.body;
  }
};

TEST_F(ConfigTest, ShowsEverySettingAsRunWithTheChangeableOnesNamed) {
  json c = get_config();
  EXPECT_EQ(c["settings"]["retention"]["raw"], 7LL * 86'400'000);
  EXPECT_EQ(c["settings"]["nodes"]["stale_after_s"], 30);  // the flag
  EXPECT_EQ(c["settings"]["http"]["max_body_bytes"], 16LL << 20);
  EXPECT_EQ(c["settings"]["listen"].get<std::string>().rfind("127.0.0.1:", 0), 0u);
  EXPECT_EQ(
      c["changeable"],
      (json{"network.deny", "network.allow", "network.allow_write", "network.allow_operator",
            "network.allow_admin", "retention.raw", "retention.rollup_1m", "retention.rollup_1h",
            "nodes.stale_after_s", "nodes.offline_after_s", "stream.flush_ms"}));
  // Admins only.
  EXPECT_EQ(http_request(port(), "GET", "/api/v1/config", "", {{"Authorization", ""}}).status, 401);
}

// database.embedded_shared_buffers reaches the embedded PostgreSQL.
TEST_F(ConfigTest, TheEmbeddedSharedBuffersAreTheSetting) {
  pqxx::connection c("host=" + dir_->path().string() +
                     "/run port=5432 user=postgres dbname=metricsd");
  pqxx::nontransaction tx(c);
  EXPECT_EQ(tx.exec("SHOW shared_buffers")[0][0].as<std::string>(), "48MB");
  EXPECT_EQ(get_config()["settings"]["database"]["embedded_shared_buffers"], 48 << 20)
      << get_config().dump();
}

TEST_F(ConfigTest, NodeThresholdsApplyAtOnceAndAreAudited) {
  ASSERT_EQ(http_request(port(), "POST", "/api/v1/nodes/cfg-node/heartbeat", R"({"type":"x"})",
                         {{"Content-Type", "application/json"}})
                .status,
            200);
  // Nothing happens under the start-up thresholds: the node monitor runs once a second, so
  // under the thresholds set below (stale after 1 s) the node would be stale within 2 s;
  // under the flag's 30 s it is still online after 2.5 s.
  constexpr auto kMonitorPeriod = 1s, kNewStaleAfter = 1s;
  std::this_thread::sleep_for(kNewStaleAfter + kMonitorPeriod + 500ms);
  EXPECT_EQ(status_of("cfg-node"), "online");
  auto r = update({{"nodes.stale_after_s", 1}, {"nodes.offline_after_s", "2"}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto j = json::parse(r.body);
  EXPECT_EQ(j["changed"]["nodes.stale_after_s"], (json{{"from", 30}, {"to", 1}}));
  EXPECT_EQ(j["changed"]["nodes.offline_after_s"], (json{{"from", 60}, {"to", 2}}));
  EXPECT_EQ(j["settings"]["nodes"]["offline_after_s"], 2);
  EXPECT_TRUE(eventually([] { return status_of("cfg-node") == "offline"; }, 5s))
      << status_of("cfg-node");
  auto audit = http_request(port(), "GET", "/api/v1/audit?action=config.update");
  ASSERT_EQ(audit.status, 200) << audit.body;
  auto entries = json::parse(audit.body)["entries"];
  ASSERT_FALSE(entries.empty()) << audit.body;
  EXPECT_NE(entries[0].dump().find("nodes.stale_after_s"), std::string::npos) << audit.body;
  // Setting the same values again changes nothing and audits nothing.
  auto same = update({{"nodes.stale_after_s", 1}});
  EXPECT_EQ(json::parse(same.body)["changed"], json::object()) << same.body;
  auto again = http_request(port(), "GET", "/api/v1/audit?action=config.update");
  EXPECT_EQ(json::parse(again.body)["entries"].size(), entries.size());
  // Back to roomy thresholds for the other tests.
  ASSERT_EQ(update({{"nodes.stale_after_s", 30}, {"nodes.offline_after_s", 60}}).status, 200);
}

TEST_F(ConfigTest, RawRetentionBoundsIngestAtOnce) {
  const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  auto write = [&](int64_t ago_s) {
    return http_request(port(), "POST", "/api/v1/write?precision=s",
                        fmt::format("cfg,node=cfg-ret v=1 {}", now_s - ago_s),
                        {{"Content-Type", "text/plain"}});
  };
  const int64_t two_days = 2 * 86'400;
  EXPECT_EQ(write(two_days).status, 204);
  ASSERT_EQ(update({{"retention.raw", "1d"}}).status, 200);
  auto old = write(two_days);
  EXPECT_EQ(old.status, 400) << old.body;
  EXPECT_NE(old.body.find("older than the raw retention"), std::string::npos) << old.body;
  EXPECT_EQ(write(3600).status, 204);
  ASSERT_EQ(update({{"retention.raw", "7d"}}).status, 200);
  EXPECT_EQ(write(two_days).status, 204);
}

TEST_F(ConfigTest, BadUpdatesAreRefusedWholeNamingTheSetting) {
  const json before = get_config()["settings"];
  expect_400(update({{"retention.raw", "soon"}}), "settings.retention.raw", "retention.raw");
  expect_400(update({{"stream.flush_ms", "1h"}, {"retention.raw", "14d"}}),
             "settings.stream.flush_ms", "stream.flush_ms");
  expect_400(update({{"retention.raw", "14d"}, {"http.max_body_bytes", 1024}}),
             "settings.http.max_body_bytes", "cannot change while the daemon runs");
  expect_400(update({{"no.such", 1}}), "settings.no.such", "unknown setting");
  expect_400(update({{"nodes.stale_after_s", 90}}), "settings.nodes.stale_after_s",
             "stale before it turns offline");
  expect_400(update(json::array()), "settings", "object of setting name");
  auto empty = http_request(port(), "POST", "/api/v1/config/update", "{}",
                            {{"Content-Type", "application/json"}});
  EXPECT_EQ(empty.status, 400) << empty.body;
  auto stray = http_request(port(), "POST", "/api/v1/config/update?x=1",
                            R"({"settings":{"retention.raw":"14d"}})",
                            {{"Content-Type", "application/json"}});
  EXPECT_EQ(stray.status, 400) << stray.body;
  EXPECT_EQ(get_config()["settings"], before);  // nothing applied, not even retention.raw
  EXPECT_EQ(update({{"stream.flush_ms", "250ms"}}).status, 200);
  EXPECT_EQ(get_config()["settings"]["stream"]["flush_ms"], 250);
}

TEST_F(ConfigTest, TheStreamFlushIntervalAppliesToTheNextFlush) {
  WsClient c(port());
  subscribe(c, {{"op", "subscribe"}, {"id", 1}, {"channels", {"metrics:cfgflush"}}});
  ASSERT_EQ(update({{"stream.flush_ms", "2s"}}).status, 200);
  // Ten writes within a second: at most a leading flush and one more at the 2 s mark.
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(post_metrics("cfg-flush", {{"cfgflush.v", i}}).status, 200);
    std::this_thread::sleep_for(100ms);
  }
  std::vector<json> messages;
  while (auto m = c.next_of("metrics", 3500ms))
    messages.push_back(*m);
  EXPECT_EQ(samples_of(messages).size(), 10u);
  EXPECT_LE(messages.size(), 3u);
  // Back to 100 ms: once the 2 s interval still pending has ended (a marker sample goes
  // out with it), writes 400 ms apart each go out on their own.
  ASSERT_EQ(update({{"stream.flush_ms", 100}}).status, 200);
  ASSERT_EQ(post_metrics("cfg-flush", {{"cfgflush.v", 99}}).status, 200);
  auto marker = c.next_of("metrics", 3500ms);
  ASSERT_TRUE(marker) << "the sample written after the change never went out";
  messages.push_back(*marker);
  size_t before = messages.size();
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(post_metrics("cfg-flush", {{"cfgflush.v", 100 + i}}).status, 200);
    std::this_thread::sleep_for(400ms);
  }
  while (auto m = c.next_of("metrics", 1500ms))
    messages.push_back(*m);
  EXPECT_EQ(samples_of(messages).size(), 16u);
  EXPECT_GE(messages.size() - before, 4u);
}

}  // namespace
}  // namespace metricsd::test
