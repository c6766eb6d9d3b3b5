// Run-time settings: what may change, all-or-nothing planning, and the masking of
// database passwords in GET /api/v1/config.
#include "core/live_settings.hpp"

#include <gtest/gtest.h>

#include "api/config_handlers.hpp"

namespace metricsd {
namespace {

using nlohmann::json;

Settings defaults() {
  return resolve_settings({});
}

TEST(LiveSettings, StartFromTheStartUpValues) {
  Settings s = defaults();
  s.nodes_stale_after_s = 20;
  LiveSettings live(s);
  EXPECT_EQ(live.nodes_stale_after_s(), 20);
  EXPECT_EQ(live.retention_raw_ms(), 7LL * 86'400'000);
  EXPECT_EQ(live.stream_flush_ms(), 100);
  EXPECT_EQ(live.current().listen, s.listen);
  EXPECT_TRUE(LiveSettings::is_live("retention.rollup_1h"));
  EXPECT_FALSE(LiveSettings::is_live("http.max_body_bytes"));
}

TEST(LiveSettings, PlanParsesLikeTheConfigFileAndApplyChangesOnlyThose) {
  LiveSettings live(defaults());
  auto plan = live.plan(json{{"retention.raw", "14d"}, {"stream.flush_ms", 250}});
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].name, "retention.raw");
  EXPECT_EQ(plan[0].from, 7LL * 86'400'000);
  EXPECT_EQ(plan[0].to, 14LL * 86'400'000);
  EXPECT_EQ(plan[1].to, 250);                            // a bare number is milliseconds
  EXPECT_EQ(live.retention_raw_ms(), 7LL * 86'400'000);  // planned, not applied
  live.apply(plan);
  EXPECT_EQ(live.retention_raw_ms(), 14LL * 86'400'000);
  EXPECT_EQ(live.stream_flush_ms(), 250);
  EXPECT_EQ(live.current().retention_raw_ms, 14LL * 86'400'000);
  EXPECT_TRUE(live.plan(json{{"retention.raw", "2w"}}).empty());  // the same value
}

TEST(LiveSettings, PlanRefusesWithTheSettingNamed) {
  LiveSettings live(defaults());
  auto refused = [&](const json& j, const std::string& part) {
    try {
      live.plan(j);
    } catch (const SettingsError& e) {
      return std::string(e.what()).find(part) != std::string::npos
                 ? testing::AssertionSuccess()
                 : testing::AssertionFailure() << e.what();
    }
    return testing::AssertionFailure() << "accepted " << j.dump();
  };
  EXPECT_TRUE(refused({{"listen", "127.0.0.1:1"}}, "setting listen: cannot change"));
  EXPECT_TRUE(refused({{"nope", 1}}, "setting nope: unknown"));
  EXPECT_TRUE(refused({{"retention.raw", "-1d"}}, "setting retention.raw"));
  EXPECT_TRUE(refused({{"retention.raw", true}}, "setting retention.raw"));
  EXPECT_TRUE(refused({{"stream.flush_ms", 0}}, "setting stream.flush_ms"));
  EXPECT_TRUE(refused({{"nodes.stale_after_s", 60}}, "stale before it turns offline"));
  EXPECT_TRUE(refused({{"nodes.offline_after_s", 10}}, "stale before it turns offline"));
  // Both together in a valid order are fine.
  EXPECT_EQ(live.plan({{"nodes.stale_after_s", 100}, {"nodes.offline_after_s", 200}}).size(), 2u);
}

TEST(MaskPassword, UrlsAndKeywordFormsLoseTheirPasswords) {
  using api::mask_password;
  EXPECT_EQ(mask_password("postgres://md:s3cr3t@db.example:5432/metricsd"),
            "postgres://md:***@db.example:5432/metricsd");
  EXPECT_EQ(mask_password("postgresql://md:p%40ss@db/x?sslmode=require"),
            "postgresql://md:***@db/x?sslmode=require");
  EXPECT_EQ(mask_password("postgres://md@db/x"), "postgres://md@db/x");
  EXPECT_EQ(mask_password("host=db user=md password=s3cr3t dbname=x"),
            "host=db user=md password=*** dbname=x");
  EXPECT_EQ(mask_password("password='a b\\' c' host=db"), "password=*** host=db");
  EXPECT_EQ(mask_password(""), "");
}

}  // namespace
}  // namespace metricsd
