// The disk watermark: refusing below disk.min_free_bytes, resuming only at 1.25 × it (no
// flapping at the mark), the lowest file system deciding, 0 never refusing; and the
// answers it gives: 507 + Retry-After for writes, 503 for /readyz, both naming the disk.
#include "core/disk_watermark.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "api/disk_refusal.hpp"
#include "core/settings.hpp"
#include "server/disk_watch.hpp"

namespace metricsd {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;

DiskWatermark::Change feed(DiskWatermark& w, std::vector<DiskReading> readings) {
  return w.observe(readings);
}

TEST(DiskWatermark, RefusesBelowTheMinimumAndResumesOnlyAtTheResumeMark) {
  DiskWatermark w(100 * kMiB);
  EXPECT_EQ(w.resume_free_bytes(), 125 * kMiB);
  using C = DiskWatermark::Change;
  EXPECT_EQ(feed(w, {{"/data", 100 * kMiB}}), C::kNone) << "exactly the minimum is enough";
  EXPECT_FALSE(w.refusing());
  EXPECT_FALSE(w.shortage());
  EXPECT_EQ(feed(w, {{"/data", 100 * kMiB - 1}}), C::kRefusing);
  EXPECT_TRUE(w.refusing());
  // Back above the minimum but under the resume mark: still refusing, figures updated.
  EXPECT_EQ(feed(w, {{"/data", 110 * kMiB}}), C::kNone);
  ASSERT_TRUE(w.shortage());
  EXPECT_EQ(w.shortage()->free_bytes, 110 * kMiB);
  EXPECT_EQ(feed(w, {{"/data", 125 * kMiB - 1}}), C::kNone);
  EXPECT_TRUE(w.refusing());
  EXPECT_EQ(feed(w, {{"/data", 125 * kMiB}}), C::kResumed);
  EXPECT_FALSE(w.refusing());
  EXPECT_FALSE(w.shortage());
  // And again from the top: the same minimum refuses.
  EXPECT_EQ(feed(w, {{"/data", 99 * kMiB}}), C::kRefusing);
}

TEST(DiskWatermark, TheFileSystemWithLeastRoomDecidesAndIsNamed) {
  DiskWatermark w(100 * kMiB);
  EXPECT_EQ(feed(w, {{"/pg", 500 * kMiB}, {"/wal", 50 * kMiB}}), DiskWatermark::Change::kRefusing);
  ASSERT_TRUE(w.shortage());
  EXPECT_EQ(w.shortage()->path, "/wal");
  EXPECT_EQ(w.shortage()->free_bytes, 50 * kMiB);
  EXPECT_EQ(w.shortage()->min_free_bytes, 100 * kMiB);
  // One file system with room is not enough: every one needs the resume mark.
  EXPECT_EQ(feed(w, {{"/pg", 500 * kMiB}, {"/wal", 120 * kMiB}}), DiskWatermark::Change::kNone);
  EXPECT_TRUE(w.refusing());
  EXPECT_EQ(feed(w, {{"/pg", 500 * kMiB}, {"/wal", 130 * kMiB}}), DiskWatermark::Change::kResumed);
}

TEST(DiskWatermark, NoReadingsChangeNothing) {
  DiskWatermark w(100 * kMiB);
  EXPECT_EQ(feed(w, {{"/data", kMiB}}), DiskWatermark::Change::kRefusing);
  // Every statvfs failed this round: what is known stays.
  EXPECT_EQ(feed(w, {}), DiskWatermark::Change::kNone);
  EXPECT_TRUE(w.refusing());
}

TEST(DiskWatermark, ZeroNeverRefuses) {
  DiskWatermark w(0);
  EXPECT_EQ(feed(w, {{"/data", 0}}), DiskWatermark::Change::kNone);
  EXPECT_FALSE(w.refusing());
  EXPECT_FALSE(w.shortage());
}

TEST(DiskWatermark, MessageNamesThePathTheFreeBytesAndTheWatermark) {
  DiskShortage s{"/var/lib/metricsd/postgres", 512 * kMiB, 1024 * kMiB, 1280 * kMiB};
  const std::string m = s.message();
  for (const char* part : {"/var/lib/metricsd/postgres", "512.0 MiB", "536870912", "1.0 GiB",
                           "1073741824", "disk.min_free_bytes", "1.2 GiB"})
    EXPECT_NE(m.find(part), std::string::npos) << part << " missing from: " << m;
}

TEST(DiskWatermark, HumanBytes) {
  EXPECT_EQ(DiskWatermark::human_bytes(0), "0 B");
  EXPECT_EQ(DiskWatermark::human_bytes(1023), "1023 B");
  EXPECT_EQ(DiskWatermark::human_bytes(1536), "1.5 KiB");
  EXPECT_EQ(DiskWatermark::human_bytes(3 * kMiB), "3.0 MiB");
  EXPECT_EQ(DiskWatermark::human_bytes(int64_t{5} << 40), "5.0 TiB");
}

TEST(DiskWatermark, SettingsDefaultToOneGibibyteEverySecondAndZeroTurnsRefusingOff) {
  Settings d = resolve_settings({});
  EXPECT_EQ(d.disk_min_free_bytes, int64_t{1} << 30);
  EXPECT_EQ(d.disk_check_interval_ms, 1000);
  SettingsSources src;
  src.flags = {{"disk.min_free_bytes", "0"}, {"disk.check_interval_ms", "250ms"}};
  Settings s = resolve_settings(src);
  EXPECT_EQ(s.disk_min_free_bytes, 0);
  EXPECT_EQ(s.disk_check_interval_ms, 250);
  for (auto [name, bad] : {std::pair{"disk.min_free_bytes", "-1"},
                           {"disk.min_free_bytes", "lots"},
                           {"disk.check_interval_ms", "10ms"},
                           {"disk.check_interval_ms", "2h"}}) {
    SettingsSources b;
    b.flags = {{name, bad}};
    EXPECT_THROW(resolve_settings(b), SettingsError) << name << "=" << bad;
  }
}

TEST(DiskWatch, WatchesThePostgresDirectoriesAndDataDirOrDataDirAloneWithAnExternalDatabase) {
  Settings s = resolve_settings({});
  using P = std::vector<std::filesystem::path>;
  EXPECT_EQ(
      server::disk_watch_paths(s, "/var/lib/metricsd"),
      (P{"/var/lib/metricsd/postgres", "/var/lib/metricsd/postgres/pg_wal", "/var/lib/metricsd"}));
  s.database_url = "postgresql://db/metricsd";
  EXPECT_EQ(server::disk_watch_paths(s, "/var/lib/metricsd"), (P{"/var/lib/metricsd"}));
}

TEST(DiskRefusal, WritesGet507WithRetryAfterAndDetailsNamingTheDisk) {
  DiskShortage s{"/data/postgres", 10 * kMiB, 64 * kMiB, 80 * kMiB};
  api::Response r = api::error_response(api::disk_full(s));
  EXPECT_EQ(r.status, 507);
  EXPECT_EQ(api::error_code_for_status(507), "insufficient_storage");
  bool retry_after = false;
  for (const auto& [k, v] : r.headers)
    if (k == "Retry-After") retry_after = std::stoi(v) > 0;
  EXPECT_TRUE(retry_after);
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["error"]["code"], "insufficient_storage");
  EXPECT_NE(body["error"]["message"].get<std::string>().find("/data/postgres"), std::string::npos);
  EXPECT_EQ(body["error"]["details"][0]["path"], "/data/postgres");
  EXPECT_EQ(body["error"]["details"][0]["free_bytes"], 10 * kMiB);
  EXPECT_EQ(body["error"]["details"][0]["min_free_bytes"], 64 * kMiB);

  api::ApiError ready = api::disk_not_ready(s);
  EXPECT_EQ(ready.status(), 503);
  EXPECT_EQ(ready.code(), "unavailable");
  EXPECT_GT(ready.retry_after_s(), 0);
  EXPECT_NE(std::string(ready.what()).find("/data/postgres"), std::string::npos);
}

}  // namespace
}  // namespace metricsd
