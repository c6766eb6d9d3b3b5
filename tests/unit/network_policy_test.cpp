// The network.* address rules: which list refuses a connection or a route, that the
// per-level lists do not nest, that a bad entry stops start-up naming the setting and the
// entry, and that a change at run time replaces the policy as a whole.
#include "core/network_policy.hpp"

#include <gtest/gtest.h>

#include "core/live_settings.hpp"

namespace metricsd {
namespace {

IpAddress ip(std::string_view text) {
  return parse_ip_address(text).value();
}

Settings with(std::initializer_list<std::pair<std::string, std::string>> flags) {
  SettingsSources src;
  src.flags.assign(flags.begin(), flags.end());
  return resolve_settings(src);
}

TEST(NetworkPolicy, EmptyListsRefuseNothing) {
  NetworkPolicy p = NetworkPolicy::from(resolve_settings({}));
  for (auto a : {"10.0.0.1", "::1", "127.0.0.2"}) {
    EXPECT_EQ(p.refuse_connection(ip(a)), "");
    for (Access x : {Access::kPublic, Access::kWrite, Access::kAgentRead, Access::kViewer,
                     Access::kOperator, Access::kAdmin})
      EXPECT_EQ(p.refuse_route(ip(a), x), "");
  }
}

TEST(NetworkPolicy, DenyComesBeforeAllow) {
  NetworkPolicy p = NetworkPolicy::from(
      with({{"network.deny", "10.0.0.66, ::1"}, {"network.allow", "10.0.0.0/8"}}));
  EXPECT_EQ(p.refuse_connection(ip("10.0.0.66")), "deny");  // in both: denied
  EXPECT_EQ(p.refuse_connection(ip("::ffff:10.0.0.66")), "deny");
  EXPECT_EQ(p.refuse_connection(ip("::1")), "deny");
  EXPECT_EQ(p.refuse_connection(ip("10.0.0.67")), "");
  EXPECT_EQ(p.refuse_connection(ip("11.0.0.1")), "allow");
  EXPECT_EQ(p.refuse_connection(ip("fd00::1")), "allow");
  // Deny alone refuses only its own.
  NetworkPolicy d = NetworkPolicy::from(with({{"network.deny", "10.0.0.0/8"}}));
  EXPECT_EQ(d.refuse_connection(ip("11.0.0.1")), "");
  EXPECT_EQ(d.refuse_connection(ip("10.0.0.1")), "deny");
}

TEST(NetworkPolicy, EachLevelListGuardsExactlyItsLevelsRoutes) {
  NetworkPolicy p = NetworkPolicy::from(with({{"network.allow_write", "10.1.0.0/16"},
                                              {"network.allow_operator", "10.2.0.0/16"},
                                              {"network.allow_admin", "10.3.0.0/16"}}));
  const IpAddress w = ip("10.1.0.1"), o = ip("10.2.0.1"), a = ip("10.3.0.1"), x = ip("10.9.0.1");
  EXPECT_EQ(p.refuse_route(w, Access::kWrite), "");
  EXPECT_EQ(p.refuse_route(x, Access::kWrite), "allow_write");
  EXPECT_EQ(p.refuse_route(o, Access::kOperator), "");
  EXPECT_EQ(p.refuse_route(w, Access::kOperator), "allow_operator");
  EXPECT_EQ(p.refuse_route(a, Access::kAdmin), "");
  // Not nested: an admin address is not thereby an operator one, nor the reverse.
  EXPECT_EQ(p.refuse_route(a, Access::kOperator), "allow_operator");
  EXPECT_EQ(p.refuse_route(o, Access::kAdmin), "allow_admin");
  // Reads, public routes and an agent's command list have no list of their own.
  for (Access r : {Access::kPublic, Access::kViewer, Access::kAgentRead})
    EXPECT_EQ(p.refuse_route(x, r), "");
  // The level lists say nothing about connections.
  EXPECT_EQ(p.refuse_connection(x), "");
  EXPECT_EQ(NetworkPolicy::route_list_name(Access::kAdmin), "allow_admin");
  EXPECT_EQ(p.route_list(Access::kViewer), nullptr);
}

TEST(NetworkPolicy, ABadEntryStopsStartUpNamingTheSettingTheEntryAndWhere) {
  for (const char* name : {"network.deny", "network.allow", "network.allow_write",
                           "network.allow_operator", "network.allow_admin"}) {
    SCOPED_TRACE(name);
    SettingsSources src;
    src.flags = {{name, "10.0.0.0/8, 10.0.0.1/8"}};
    try {
      resolve_settings(src);
      ADD_FAILURE() << "accepted";
    } catch (const SettingsError& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind(std::string("setting ") + name + ": entry 2 \"10.0.0.1/8\": ", 0), 0u)
          << msg;
      EXPECT_NE(msg.find("the range is 10.0.0.0/8"), std::string::npos) << msg;
      EXPECT_NE(msg.find(flag_name(name)), std::string::npos) << msg;
    }
  }
  // From the environment and the file too; a JSON number is not a list.
  SettingsSources env;
  env.env = {{"METRICSD_NETWORK_DENY", "1.2.3.4,,5.6.7.8"}};
  EXPECT_THROW(resolve_settings(env), SettingsError);
  SettingsSources file;
  file.file_name = "/etc/m.json";
  file.file_text = R"({"network": {"allow": 10}})";
  EXPECT_THROW(resolve_settings(file), SettingsError);
  file.file_text = R"({"network": {"allow": "10.0.0.0/8, fd00::/8"}})";
  EXPECT_EQ(resolve_settings(file).network_allow, "10.0.0.0/8, fd00::/8");
}

TEST(NetworkPolicy, LiveChangesReplaceThePolicyAndBadOnesChangeNothing) {
  LiveSettings live(with({{"network.allow_admin", "127.0.0.1"}}));
  auto before = live.network();
  EXPECT_EQ(before->refuse_route(ip("127.0.0.2"), Access::kAdmin), "allow_admin");
  EXPECT_TRUE(LiveSettings::is_live("network.deny"));
  EXPECT_TRUE(LiveSettings::is_live("network.allow_admin"));

  EXPECT_THROW(live.plan(nlohmann::json{{"network.allow_admin", "127.0.0.0/33"}}), SettingsError);
  EXPECT_THROW(live.plan(nlohmann::json{{"network.deny", 5}}), SettingsError);
  auto plan =
      live.plan(nlohmann::json{{"network.allow_admin", "127.0.0.0/30"}, {"retention.raw", "14d"}});
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].name, "network.allow_admin");
  EXPECT_EQ(plan[0].from, "127.0.0.1");
  EXPECT_EQ(plan[0].to, "127.0.0.0/30");
  EXPECT_EQ(live.network(), before);  // planned, not applied
  live.apply(plan);
  EXPECT_EQ(live.network()->refuse_route(ip("127.0.0.2"), Access::kAdmin), "");
  EXPECT_EQ(live.network()->refuse_route(ip("127.0.0.4"), Access::kAdmin), "allow_admin");
  EXPECT_EQ(live.current().network_allow_admin, "127.0.0.0/30");
  EXPECT_EQ(live.retention_raw_ms(), 14LL * 86'400'000);
  // A holder of the old policy keeps it whole.
  EXPECT_EQ(before->refuse_route(ip("127.0.0.2"), Access::kAdmin), "allow_admin");
  // Emptied: no rule.
  live.apply(live.plan(nlohmann::json{{"network.allow_admin", ""}}));
  EXPECT_EQ(live.network()->route_list(Access::kAdmin), nullptr);
}

}  // namespace
}  // namespace metricsd
