// The pure rules behind security: which role may use which access level, token buckets,
// CORS origin lists, loopback detection for auth.mode=disabled, and `metricsd token`
// command-line parsing.
#include <gtest/gtest.h>

#include "core/cli.hpp"
#include "core/rate_limiter.hpp"
#include "core/roles.hpp"
#include "core/settings.hpp"
#include "server/cors.hpp"

namespace metricsd {
namespace {

TEST(Roles, EachAccessLevelAdmitsExactlyItsRoles) {
  struct Case {
    Access access;
    bool agent, viewer, op, admin;
  };
  for (const auto& c : std::vector<Case>{{Access::kPublic, true, true, true, true},
                                         {Access::kWrite, true, false, true, true},
                                         {Access::kAgentRead, true, true, true, true},
                                         {Access::kViewer, false, true, true, true},
                                         {Access::kOperator, false, false, true, true},
                                         {Access::kAdmin, false, false, false, true}}) {
    EXPECT_EQ(role_allows(Role::kAgent, c.access), c.agent) << access_name(c.access);
    EXPECT_EQ(role_allows(Role::kViewer, c.access), c.viewer) << access_name(c.access);
    EXPECT_EQ(role_allows(Role::kOperator, c.access), c.op) << access_name(c.access);
    EXPECT_EQ(role_allows(Role::kAdmin, c.access), c.admin) << access_name(c.access);
  }
  for (auto name : {"admin", "operator", "viewer", "agent"})
    EXPECT_EQ(role_name(*parse_role(name)), name);
  EXPECT_FALSE(parse_role("root"));
  EXPECT_FALSE(parse_role("Admin"));
  EXPECT_FALSE(parse_role(""));
}

TEST(RateLimiter, BurstThenRateAndARetryHint) {
  RateLimiter l(2, 4, 100);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(l.take("a", 1, 10.0), 0) << i;
  double wait = l.take("a", 1, 10.0);
  EXPECT_NEAR(wait, 0.5, 1e-9);  // one token at 2/s
  EXPECT_EQ(l.take("b", 1, 10.0), 0) << "keys are independent";
  EXPECT_GT(l.take("a", 1, 10.25), 0);
  EXPECT_EQ(l.take("a", 1, 10.5), 0);
  EXPECT_EQ(l.take("a", 1, 100.0), 0);  // refilled, capped at the burst
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(l.take("a", 1, 100.0), 0);
  EXPECT_GT(l.take("a", 1, 100.0), 0);
}

TEST(RateLimiter, WaitPeeksWithoutSpending) {
  RateLimiter l(2, 2, 100);
  EXPECT_EQ(l.wait("a", 0.0), 0);
  EXPECT_EQ(l.wait("a", 0.0), 0);  // nothing spent
  l.take("a", 2, 0.0);
  EXPECT_NEAR(l.wait("a", 0.0), 0.5, 1e-9);
  EXPECT_EQ(l.wait("a", 0.5), 0);
}

TEST(RateLimiter, ACostAboveTheBurstPassesOnceFromAFullBucketThenWaits) {
  RateLimiter l(10, 10, 100);
  EXPECT_EQ(l.take("t", 25, 0.0), 0);  // debt of 15
  double wait = l.take("t", 1, 0.0);
  EXPECT_NEAR(wait, 1.6, 1e-9);  // (1 - (-15)) / 10
  EXPECT_GT(l.take("t", 25, 1.0), 0);
  EXPECT_EQ(l.take("t", 25, 2.5), 0);
}

TEST(RateLimiter, KeysAreBoundedIdleOnesGoFirst) {
  RateLimiter l(1, 1, 10);
  for (int i = 0; i < 100; ++i)
    l.take("k" + std::to_string(i), 1, static_cast<double>(i));
  EXPECT_LE(l.keys(), 10u);
  // Busy keys only: still bounded.
  RateLimiter busy(0.001, 1, 10);
  for (int i = 0; i < 100; ++i)
    busy.take("k" + std::to_string(i), 1, 0.0);
  EXPECT_LE(busy.keys(), 10u);
}

TEST(Cors, OriginListsAndPreflights) {
  server::CorsPolicy none("");
  EXPECT_FALSE(none.allows("https://a.example"));
  server::CorsPolicy some(" https://a.example ,http://localhost:3000");
  EXPECT_TRUE(some.allows("https://a.example"));
  EXPECT_TRUE(some.allows("http://localhost:3000"));
  EXPECT_FALSE(some.allows("https://a.example.evil"));
  EXPECT_FALSE(some.allows("http://a.example"));
  EXPECT_FALSE(some.allows(""));
  server::CorsPolicy any("*");
  EXPECT_TRUE(any.allows("https://whatever.example"));
  EXPECT_THROW(server::CorsPolicy("a.example"), std::invalid_argument);
  EXPECT_THROW(server::CorsPolicy("https://a.example/"), std::invalid_argument);

  api::Request pre;
  pre.method = "OPTIONS";
  pre.headers = {{"origin", "https://a.example"}, {"access-control-request-method", "POST"}};
  EXPECT_TRUE(server::CorsPolicy::is_preflight(pre));
  auto r = some.preflight(pre);
  EXPECT_EQ(r.status, 204);
  bool allow = false;
  for (const auto& [k, v] : r.headers)
    allow = allow || (k == "Access-Control-Allow-Origin" && v == "https://a.example");
  EXPECT_TRUE(allow);
  auto refused = none.preflight(pre);
  for (const auto& [k, v] : refused.headers)
    EXPECT_NE(k, "Access-Control-Allow-Origin");
}

TEST(Settings, AuthDisabledOnlyOnLoopbackAndTlsNeedsBothFiles) {
  EXPECT_TRUE(is_loopback_listen("127.0.0.1:8080"));
  EXPECT_TRUE(is_loopback_listen("127.1.2.3:0"));
  EXPECT_TRUE(is_loopback_listen("[::1]:8080"));
  EXPECT_TRUE(is_loopback_listen("localhost:8080"));
  EXPECT_FALSE(is_loopback_listen("0.0.0.0:8080"));
  EXPECT_FALSE(is_loopback_listen("[::]:8080"));
  EXPECT_FALSE(is_loopback_listen("10.0.0.1:8080"));
  SettingsSources src;
  src.flags = {{"auth.mode", "disabled"}, {"listen", "0.0.0.0:8080"}};
  EXPECT_THROW(resolve_settings(src), SettingsError);
  src.flags = {{"auth.mode", "disabled"}, {"listen", "127.0.0.1:8080"}};
  EXPECT_EQ(resolve_settings(src).auth_mode, "disabled");
  src.flags = {{"tls.cert_file", "/c.pem"}};
  EXPECT_THROW(resolve_settings(src), SettingsError);
}

TEST(CommandLine, TokenActions) {
  auto c = parse_command_line({"token", "create", "--role", "agent", "--name", "n1", "--node",
                               "gpu-1", "--data-dir", "/d"});
  EXPECT_EQ(c.command, "token");
  EXPECT_EQ(c.action, "create");
  EXPECT_EQ(c.token_role, "agent");
  EXPECT_EQ(c.token_name, "n1");
  EXPECT_EQ(c.token_node, "gpu-1");
  auto r = parse_command_line({"token", "revoke", "7"});
  EXPECT_EQ(r.arguments, std::vector<std::string>{"7"});
  EXPECT_TRUE(parse_command_line({"token", "list", "--all"}).token_all);
  EXPECT_THROW(parse_command_line({"token"}), SettingsError);
  EXPECT_THROW(parse_command_line({"token", "explode"}), SettingsError);
  EXPECT_THROW(parse_command_line({"token", "create", "--name", "x"}), SettingsError);
  EXPECT_THROW(parse_command_line({"token", "revoke"}), SettingsError);
  EXPECT_THROW(parse_command_line({"token", "list", "extra"}), SettingsError);
  EXPECT_THROW(parse_command_line({"serve", "--role", "admin"}), SettingsError);
}

}  // namespace
}  // namespace metricsd
