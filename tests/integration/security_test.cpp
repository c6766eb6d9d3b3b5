// Tokens, roles and audit against the real daemon: the role matrix over every registered
// route (a route missing from the route table fails the test), token creation, use
// and revocation (through the API and the command line, which reaches the running
// daemon by NOTIFY), agent tokens bound to a node, commands, and the audit log.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "api/route_table.hpp"
#include "harness.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// What each route requires, from the route table the daemon is built from; every route
// the daemon lists must be there, and each is checked against `allowed`, this test's own
// reading of the roles.
const std::map<std::string, std::string>& expected_access() {
  static const std::map<std::string, std::string> m = [] {
    std::map<std::string, std::string> out;
    for (const auto& route : api::route_table())
      out[std::string(route.method) + " " + std::string(route.pattern)] =
          std::string(access_name(route.access));
    return out;
  }();
  return m;
}

bool allowed(const std::string& access, const std::string& role) {
  if (access == "public") return true;
  if (access == "agent") return role != "viewer";
  if (access == "agent_or_viewer") return true;
  if (access == "viewer") return role != "agent";
  if (access == "operator") return role == "operator" || role == "admin";
  return role == "admin";
}

std::string concrete(std::string path) {
  static const std::vector<std::pair<std::string, std::string>> subst = {
      {"{node_id}", "sec-node"}, {"{id}", "999999"}, {"{category}", "gpu"}, {"{timeframe}", "1h"}};
  for (const auto& [from, to] : subst)
    for (auto p = path.find(from); p != std::string::npos; p = path.find(from))
      path.replace(p, from.size(), to);
  return path;
}

HttpResult as(int port, const std::string& token, const std::string& method,
              const std::string& target, const std::string& body = "") {
  return http_request(port, method, target, body,
                      {{"Authorization", token.empty() ? "" : "Bearer " + token},
                       {"Content-Type", "application/json"}});
}

std::string error_code(const HttpResult& r) {
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("error")) return "";
  return j["error"].value("code", "");
}

class Security : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    daemon_ = new Daemon(dir_->path());
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
    for (std::string role : {"admin", "operator", "viewer", "agent"})
      tokens_[role] = create(role, "matrix-" + role);
    // A node for the command routes.
    auto hb = http_request(port(), "POST", "/api/v1/nodes/sec-node/heartbeat", R"({"type":"x"})",
                           {{"Content-Type", "application/json"}});
    ASSERT_EQ(hb.status, 200) << hb.body;
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete dir_;
  }
  static int port() { return daemon_->port(); }
  static std::string create(const std::string& role, const std::string& name,
                            const std::string& node = "") {
    json body = {{"name", name}, {"role", role}};
    if (!node.empty()) body["node"] = node;
    auto r = http_request(port(), "POST", "/api/v1/tokens", body.dump(),
                          {{"Content-Type", "application/json"}});
    EXPECT_EQ(r.status, 201) << r.body;
    return json::parse(r.body, nullptr, false).value("token", "");
  }

  static TempDir* dir_;
  static Daemon* daemon_;
  static std::map<std::string, std::string> tokens_;
};
TempDir* Security::dir_ = nullptr;
Daemon* Security::daemon_ = nullptr;
std::map<std::string, std::string> Security::tokens_;

TEST_F(Security, EveryRegisteredRouteIsProtectedAsDeclared) {
  auto r = as(port(), tokens_["viewer"], "GET", "/api/v1/routes");
  ASSERT_EQ(r.status, 200) << r.body;
  std::set<std::string> seen;
  const json routes = json::parse(r.body)["routes"];
  for (const auto& route : routes) {
    std::string method = route["method"], path = route["path"], access = route["access"];
    std::string key = method + " " + path;
    seen.insert(key);
    auto it = expected_access().find(key);
    ASSERT_NE(it, expected_access().end()) << key << " is not in the expected access table";
    EXPECT_EQ(access, it->second) << key;
    std::string target = concrete(path);
    std::string body = method == "POST" ? "{}" : "";
    auto anon = as(port(), "", method, target, body);
    if (access == "public") {
      EXPECT_NE(anon.status, 401) << key;
      EXPECT_NE(anon.status, 403) << key;
    } else {
      EXPECT_EQ(anon.status, 401) << key << " answered without a token: " << anon.body;
      EXPECT_EQ(error_code(anon), "unauthenticated") << key;
      EXPECT_EQ(anon.header("www-authenticate"), "Bearer") << key;
      auto bogus = as(port(), "mtd_not-a-real-token", method, target, body);
      EXPECT_EQ(bogus.status, 401) << key;
    }
    for (const auto& [role, token] : tokens_) {
      auto res = as(port(), token, method, target, body);
      if (allowed(access, role)) {
        EXPECT_NE(res.status, 401) << key << " as " << role << ": " << res.body;
        EXPECT_NE(res.status, 403) << key << " as " << role << ": " << res.body;
      } else {
        EXPECT_EQ(res.status, 403) << key << " as " << role << ": " << res.body;
        EXPECT_EQ(error_code(res), "permission_denied") << key;
        EXPECT_NE(res.body.find(role), std::string::npos) << "names the role: " << res.body;
      }
    }
  }
  for (const auto& [key, access] : expected_access())
    EXPECT_TRUE(seen.count(key)) << key << " is expected but not registered";
}

TEST_F(Security, ATokenIsShownOnceStoredAsAHashAndRevokedAtOnce) {
  std::string secret = create("viewer", "short-lived");
  ASSERT_EQ(secret.rfind("mtd_", 0), 0u);
  EXPECT_EQ(secret.size(), 4u + 43u);
  EXPECT_EQ(as(port(), secret, "GET", "/api/v1/nodes").status, 200);

  auto list = http_request(port(), "GET", "/api/v1/tokens");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body.find(secret), std::string::npos) << "the listing never shows a secret";
  EXPECT_EQ(list.body.find("secret_hash"), std::string::npos);
  int64_t id = 0;
  const json listed = json::parse(list.body)["tokens"];
  for (const auto& t : listed)
    if (t["name"] == "short-lived") {
      id = t["id"];
      EXPECT_EQ(t["role"], "viewer");
      EXPECT_TRUE(t["revoked_at"].is_null());
    }
  ASSERT_GT(id, 0);

  auto del = http_request(port(), "DELETE", "/api/v1/tokens/" + std::to_string(id));
  ASSERT_EQ(del.status, 200) << del.body;
  EXPECT_FALSE(json::parse(del.body)["revoked_at"].is_null());
  // At once: the cache held it a moment ago.
  auto after = as(port(), secret, "GET", "/api/v1/nodes");
  EXPECT_EQ(after.status, 401) << after.body;
  EXPECT_EQ(http_request(port(), "DELETE", "/api/v1/tokens/" + std::to_string(id)).status, 404);
  EXPECT_EQ(http_request(port(), "DELETE", "/api/v1/tokens/abc").status, 400);
  auto all = http_request(port(), "GET", "/api/v1/tokens?include_revoked=true");
  EXPECT_NE(all.body.find("short-lived"), std::string::npos);
  auto live = http_request(port(), "GET", "/api/v1/tokens");
  EXPECT_EQ(live.body.find("short-lived"), std::string::npos);
}

TEST_F(Security, TokenCreationRefusesBadInput) {
  auto post = [](const std::string& body) {
    return http_request(port(), "POST", "/api/v1/tokens", body,
                        {{"Content-Type", "application/json"}});
  };
  for (const std::string bad :
       {R"({"name":"x"})", R"({"role":"agent"})", R"({"name":"x","role":"root"})",
        R"({"name":"","role":"viewer"})", R"({"name":1,"role":"viewer"})",
        R"({"name":"x","role":"viewer","node":"n1"})",
        R"({"name":"x","role":"agent","node":"../etc"})",
        R"({"name":"x","role":"viewer","admin":true})", R"([1,2])", "{", "\xff\xfe"}) {
    auto r = post(bad);
    EXPECT_EQ(r.status, 400) << bad << " -> " << r.body;
    EXPECT_EQ(error_code(r), "invalid_argument") << bad;
  }
  auto long_name = post(json{{"name", std::string(101, 'n')}, {"role", "viewer"}}.dump());
  EXPECT_EQ(long_name.status, 400);
  auto text = http_request(port(), "POST", "/api/v1/tokens", R"({"name":"x","role":"viewer"})",
                           {{"Content-Type", "text/plain"}});
  EXPECT_EQ(text.status, 415);
}

TEST_F(Security, CommandLineTokensWorkAgainstTheRunningDaemon) {
  std::string out;
  ASSERT_EQ(Daemon::run({"token", "create", "--role", "operator", "--name", "from-cli",
                         "--data-dir", dir_->path().string()},
                        &out),
            0)
      << out;
  std::string secret;
  for (size_t p = out.find("mtd_"); p != std::string::npos; p = std::string::npos)
    secret = out.substr(p, 47);
  ASSERT_EQ(secret.size(), 47u) << out;
  auto cmd = as(port(), secret, "POST", "/api/v1/nodes/sec-node/commands", R"({"type":"pause"})");
  EXPECT_EQ(cmd.status, 201) << cmd.body;

  ASSERT_EQ(Daemon::run({"token", "list", "--data-dir", dir_->path().string()}, &out), 0) << out;
  EXPECT_NE(out.find("from-cli"), std::string::npos);
  EXPECT_EQ(out.find(secret), std::string::npos);
  int64_t id = 0;
  const json listed = json::parse(http_request(port(), "GET", "/api/v1/tokens").body)["tokens"];
  for (const auto& t : listed)
    if (t["name"] == "from-cli") id = t["id"];
  ASSERT_GT(id, 0);
  ASSERT_EQ(Daemon::run(
                {"token", "revoke", std::to_string(id), "--data-dir", dir_->path().string()}, &out),
            0)
      << out;
  // NOTIFY reaches the daemon well before the cache's 10 s would expire.
  int status = 0;
  for (int i = 0; i < 30 && status != 401; ++i) {
    status = as(port(), secret, "GET", "/api/v1/nodes").status;
    if (status != 401) std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(status, 401);
  EXPECT_NE(Daemon::run({"token", "revoke", "abc", "--data-dir", dir_->path().string()}, &out), 0);
  EXPECT_EQ(Daemon::run({"token", "create", "--role", "root", "--name", "x", "--data-dir",
                         dir_->path().string()},
                        &out),
            2);
}

TEST_F(Security, AgentTokensBoundToANodeActForThatNodeOnly) {
  std::string agent = create("agent", "gpu-07 agent", "gpu-07");
  auto own = as(port(), agent, "POST", "/api/v1/nodes/gpu-07/heartbeat", R"({"type":"gen"})");
  EXPECT_EQ(own.status, 200) << own.body;
  auto other = as(port(), agent, "POST", "/api/v1/nodes/gpu-08/heartbeat", R"({"type":"gen"})");
  EXPECT_EQ(other.status, 403) << other.body;
  auto json_other = as(port(), agent, "POST", "/api/v1/metrics",
                       R"({"node":"gpu-08","metrics":{"gpu.temp_c":50}})");
  EXPECT_EQ(json_other.status, 403) << json_other.body;
  auto lp_other = http_request(port(), "POST", "/api/v1/write", "gpu,node=gpu-08 temp_c=50\n",
                               {{"Authorization", "Bearer " + agent}});
  EXPECT_EQ(lp_other.status, 403) << lp_other.body;
  auto json_own = as(port(), agent, "POST", "/api/v1/metrics",
                     R"({"node":"gpu-07","metrics":{"gpu.temp_c":50}})");
  EXPECT_EQ(json_own.status, 200) << json_own.body;
  EXPECT_EQ(as(port(), agent, "GET", "/api/v1/nodes").status, 403) << "agents read nothing";
  EXPECT_EQ(as(port(), agent, "GET", "/api/v1/nodes/gpu-08/commands").status, 403);

  // A command from an operator reaches the node in its next heartbeat; it acknowledges.
  auto cmd = as(port(), tokens_["operator"], "POST", "/api/v1/nodes/gpu-07/commands",
                R"({"type":"restart","args":{"reason":"test"}})");
  ASSERT_EQ(cmd.status, 201) << cmd.body;
  int64_t id = json::parse(cmd.body)["id"];
  auto hb = as(port(), agent, "POST", "/api/v1/nodes/gpu-07/heartbeat", "{}");
  ASSERT_EQ(hb.status, 200);
  auto commands = json::parse(hb.body)["commands"];
  ASSERT_EQ(commands.size(), 1u) << hb.body;
  EXPECT_EQ(commands[0]["id"], id);
  EXPECT_EQ(commands[0]["args"]["reason"], "test");
  std::string ack = "/api/v1/nodes/gpu-07/commands/" + std::to_string(id) + "/ack";
  EXPECT_EQ(as(port(), agent, "POST", ack, R"({"status":"maybe"})").status, 400);
  EXPECT_EQ(as(port(), agent, "POST", ack, R"({"status":"done","message":"ok"})").status, 200);
  EXPECT_EQ(as(port(), agent, "POST", ack, R"({"status":"done"})").status, 409);
  auto listed = as(port(), agent, "GET", "/api/v1/nodes/gpu-07/commands");
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(json::parse(listed.body)["commands"][0]["status"], "done");
  EXPECT_EQ(
      as(port(), tokens_["operator"], "POST", "/api/v1/nodes/nope/commands", R"({"type":"pause"})")
          .status,
      404);
  EXPECT_EQ(as(port(), tokens_["operator"], "POST", "/api/v1/nodes/gpu-07/commands",
               R"({"type":"format-disk"})")
                .status,
            400);
}

TEST_F(Security, TheAuditLogRecordsWhoDidWhatAndNeverASecret) {
  std::string secret = create("viewer", "audited");
  // A refused attempt on an admin route is audited too.
  EXPECT_EQ(as(port(), tokens_["viewer"], "GET", "/api/v1/tokens").status, 403);
  EXPECT_EQ(as(port(), "", "GET", "/api/v1/audit").status, 401);
  auto fleet =
      as(port(), tokens_["operator"], "POST", "/api/v1/fleet/commands", R"({"type":"stop"})");
  ASSERT_EQ(fleet.status, 201) << fleet.body;
  EXPECT_GE(json::parse(fleet.body)["count"].get<int>(), 1);

  json entries;
  for (int i = 0; i < 50; ++i) {  // refusals are written in the background
    auto r = http_request(port(), "GET", "/api/v1/audit?limit=1000");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body.find(secret), std::string::npos);
    for (const auto& [role, t] : tokens_)
      EXPECT_EQ(r.body.find(t), std::string::npos) << "a secret in the audit log";
    entries = json::parse(r.body)["entries"];
    // Wait for the two kinds of refusal checked below (any auth.denied would do too soon:
    // earlier tests have audited others already).
    bool anon = false, viewer = false;
    for (const auto& e : entries) {
      if (e["action"] != "auth.denied") continue;
      anon = anon || (e["target"] == "GET /api/v1/audit" && e["token_id"].is_null() &&
                      e["details"]["reason"] == "missing");
      viewer =
          viewer || (e["target"] == "GET /api/v1/tokens" && e["token_name"] == "matrix-viewer");
    }
    if (anon && viewer) break;
    std::this_thread::sleep_for(100ms);
  }
  bool created = false, denied_viewer = false, denied_anon = false, fleet_cmd = false;
  for (const auto& e : entries) {
    if (e["action"] == "token.create" && e["details"]["name"] == "audited") {
      created = true;
      EXPECT_EQ(e["token_name"], "admin (first start)");
      EXPECT_EQ(e["source"].get<std::string>().rfind("127.0.0.1:", 0), 0u);
      EXPECT_EQ(e["outcome"], "ok");
    }
    if (e["action"] == "auth.denied" && e["target"] == "GET /api/v1/tokens" &&
        e["token_name"] == "matrix-viewer") {
      denied_viewer = true;
      EXPECT_EQ(e["details"]["reason"], "role");
      EXPECT_EQ(e["outcome"], "denied");
    }
    if (e["action"] == "auth.denied" && e["target"] == "GET /api/v1/audit")
      // Several refusals of this route are audited, in the order the background writes
      // land: any anonymous one will do.
      denied_anon = denied_anon || (e["token_id"].is_null() && e["details"]["reason"] == "missing");
    if (e["action"] == "command.fleet") fleet_cmd = e["token_name"] == "matrix-operator";
  }
  EXPECT_TRUE(created);
  EXPECT_TRUE(denied_viewer);
  EXPECT_TRUE(denied_anon);
  EXPECT_TRUE(fleet_cmd);

  auto only = json::parse(http_request(port(), "GET", "/api/v1/audit?action=token.").body);
  for (const auto& e : only["entries"])
    EXPECT_EQ(e["action"].get<std::string>().rfind("token.", 0), 0u);
  auto page = json::parse(http_request(port(), "GET", "/api/v1/audit?limit=2").body);
  ASSERT_EQ(page["entries"].size(), 2u);
  ASSERT_TRUE(page["next_cursor"].is_string());
  auto next = json::parse(
      http_request(port(), "GET",
                   "/api/v1/audit?limit=2&cursor=" + page["next_cursor"].get<std::string>())
          .body);
  ASSERT_FALSE(next["entries"].empty());
  EXPECT_LT(next["entries"][0]["id"].get<int64_t>(), page["entries"][1]["id"].get<int64_t>());
  EXPECT_EQ(http_request(port(), "GET", "/api/v1/audit?bogus=1").status, 400);
  EXPECT_EQ(http_request(port(), "GET", "/api/v1/audit?from=-1m&to=-2m").status, 400);
}

}  // namespace
}  // namespace metricsd::test
