// An upgrade from what released binaries left in their database: each fixture
// (tests/fixtures/upgrade/, made by make_fixture.sh with that release's metricsd) is a dump
// of a data directory holding a compacted day in that release's format and samples still
// in its inbox. Restored into a throwaway PostgreSQL, this release's daemon migrates it,
// compacts the inbox into its own blocks beside the old rows, and must answer every
// sample through every tier, the `metrics` view and the latest values, then take new
// samples beside them.
#include <gtest/gtest.h>
#include <zlib.h>

#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "harness.hpp"
#include "storage/embedded_postgres.hpp"
#include "tool_process.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr int64_t kBaseMs = 1'793'577'600'000;  // 2026-11-02T00:00:00Z, minute 0
constexpr int kMinutes = 1620;                  // day one compacted, 3 h of day two in the inbox

// The fixture's samples (make_fixture.sh writes the same): minute i of node up-a or up-b.
double temp(bool b, int i) {
  int k = i * (b ? 11 : 7) % 300;
  return std::stod(fmt::format("{}.{}", (b ? 41 : 40) + k / 10, k % 10));
}
double bytes(bool b, int i) {
  return b ? 2e9 + i * 3000.0 + (i * i) % 991 : 1e9 + i * 1000.0 + (i * i) % 997;
}

std::string gunzip(const std::filesystem::path& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot open " + path.string());
  std::string out;
  char buf[65536];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0)
    out.append(buf, static_cast<size_t>(n));
  gzclose(f);
  if (n < 0) throw std::runtime_error("cannot inflate " + path.string());
  return out;
}

class UpgradeRelease : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    port_ = free_port();
    storage::EmbeddedPostgres::Options o;
    o.data_dir = dir_->path() / "cluster";
    o.tcp_port = port_;
    o.settings = {"fsync=off"};  // a throwaway server; durability is not under test here
    pg_ = new storage::EmbeddedPostgres(o);
    pg_->start();
  }
  static void TearDownTestSuite() {
    delete pg_;
    delete dir_;
  }

  // Restores the fixture into database `db` and starts a daemon on it.
  void upgrade(const std::string& fixture, const std::string& db) {
    db_ = db;
    {
      pqxx::connection c(pg_->conninfo("postgres"));
      pqxx::nontransaction tx(c);
      tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(db));
      tx.exec("CREATE DATABASE " + tx.quote_name(db));
    }
    auto sql = data_.path() / (db + ".sql");
    std::ofstream(sql) << gunzip(std::filesystem::path(METRICSD_SOURCE_DIR) /
                                 "tests/fixtures/upgrade" / fixture);
    ToolProcess psql((storage::EmbeddedPostgres::find_bindir() / "psql").string(),
                     {"-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                      std::to_string(port_), "-U", "postgres", "-d", db, "-f", sql.string()});
    ASSERT_EQ(psql.wait_exit(60s), 0) << psql.log();
    ASSERT_GT(query("SELECT count(*) FROM inbox")[0][0].as<int>(), 0) << "the fixture's inbox";
    daemon_ = std::make_unique<Daemon>(
        data_.path(),
        std::vector<std::string>{
            "--database-url", fmt::format("postgresql://postgres@127.0.0.1:{}/{}", port_, db),
            "--retention-raw", "36500d", "--retention-rollup-1m", "36500d", "--retention-rollup-1h",
            "36500d", "--ingest-compaction-interval-ms", "200ms", "--ingest-compaction-grace-ms",
            "0ms",
            // The fixture's database has its release's admin token, so this start makes
            // none for the harness to read.
            "--auth-mode", "disabled"});
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
    ASSERT_TRUE(
        eventually([&] { return query("SELECT count(*) FROM inbox")[0][0].as<int>() == 0; }, 30s))
        << "the fixture's inbox was not compacted";
  }
  pqxx::result query(const std::string& sql) {
    pqxx::connection c(pg_->conninfo(db_));
    pqxx::nontransaction tx(c);
    return tx.exec(sql);
  }
  json get(const std::string& target) {
    auto r = http_request(daemon_->port(), "GET", target);
    EXPECT_EQ(r.status, 200) << target << " " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  // The points of one series: (ms, value).
  std::vector<std::pair<int64_t, double>> points(const std::string& metric, const std::string& node,
                                                 int minutes, const std::string& rest) {
    auto j = get(fmt::format("/api/v1/query?metric={}&node={}&from={}&to={}&{}", metric, node,
                             kBaseMs / 1000, (kBaseMs + minutes * 60'000) / 1000, rest));
    std::vector<std::pair<int64_t, double>> out;
    if (j["series"].size() != 1) return out;
    for (const auto& p : j["series"][0]["points"])
      out.emplace_back(p[0].get<int64_t>(), p[1].get<double>());
    return out;
  }
  // Every tier answers every sample of minutes [0, minutes) of both nodes and metrics.
  void expect_samples(int minutes) {
    for (bool b : {false, true}) {
      std::string node = b ? "up-b" : "up-a";
      for (const char* metric : {"fx.temp", "fx.bytes"}) {
        auto want = [&](int i) {
          return std::string_view(metric) == "fx.temp" ? temp(b, i) : bytes(b, i);
        };
        auto raw = points(metric, node, minutes, "step=20s&agg=max");  // raw samples
        ASSERT_EQ(raw.size(), static_cast<size_t>(minutes)) << node << " " << metric;
        for (int i = 0; i < minutes; ++i) {
          ASSERT_EQ(raw[static_cast<size_t>(i)].first, kBaseMs + i * 60'000) << i;
          ASSERT_EQ(raw[static_cast<size_t>(i)].second, want(i)) << node << " " << metric << i;
        }
        auto mins = points(metric, node, minutes, "step=1m&agg=min");  // 1-minute rollups
        ASSERT_EQ(mins.size(), static_cast<size_t>(minutes));
        for (int i = 0; i < minutes; ++i)
          ASSERT_EQ(mins[static_cast<size_t>(i)].second, want(i)) << node << " " << metric << i;
        auto hours = points(metric, node, minutes, "step=1h&agg=sum");  // 1-hour rollups
        ASSERT_EQ(hours.size(), static_cast<size_t>(minutes / 60));
        for (int h = 0; h < minutes / 60; ++h) {
          double sum = 0;
          for (int i = h * 60; i < h * 60 + 60; ++i)
            sum += want(i);
          EXPECT_NEAR(hours[static_cast<size_t>(h)].second, sum, std::abs(sum) * 1e-12)
              << node << " " << metric << " hour " << h;
        }
      }
    }
    auto view = query(
        "SELECT count(*), count(DISTINCT (time, metric, node)) FROM metrics "
        "WHERE node IN ('up-a', 'up-b')");
    EXPECT_EQ(view[0][0].as<int>(), 4 * minutes);
    EXPECT_EQ(view[0][1].as<int>(), 4 * minutes);
    auto latest = get("/api/v1/latest?metric=fx.temp");
    ASSERT_EQ(latest.size(), 2u) << latest.dump();
    for (const auto& l : latest)
      EXPECT_EQ(l["value"].get<double>(), temp(l["node"] == "up-b", minutes - 1)) << l.dump();
  }
  // Migrated, then 60 more minutes written by this release: 1680 minutes in all.
  void check_upgrade() {
    expect_samples(kMinutes);
    std::string lines;
    for (int i = kMinutes; i < kMinutes + 60; ++i)
      for (bool b : {false, true})
        lines += fmt::format("fx,node={} temp={},bytes={} {}\n", b ? "up-b" : "up-a", temp(b, i),
                             bytes(b, i), kBaseMs + i * 60'000);
    ASSERT_EQ(http_request(daemon_->port(), "POST", "/api/v1/write?precision=ms", lines).status,
              204);
    ASSERT_TRUE(
        eventually([&] { return query("SELECT count(*) FROM inbox")[0][0].as<int>() == 0; }, 30s));
    expect_samples(kMinutes + 60);
    EXPECT_EQ(query("SELECT max(version) FROM schema_migrations")[0][0].as<int>(),
              query("SELECT count(*) FROM schema_migrations")[0][0].as<int>());
  }

  static TempDir* dir_;
  static int port_;
  static storage::EmbeddedPostgres* pg_;
  TempDir data_;
  std::string db_;
  std::unique_ptr<Daemon> daemon_;
};
TempDir* UpgradeRelease::dir_ = nullptr;
int UpgradeRelease::port_ = 0;
storage::EmbeddedPostgres* UpgradeRelease::pg_ = nullptr;

// 6119abc: plain-array chunks and one rollup row per bucket (migrations up to 0003).
TEST_F(UpgradeRelease, FromArrayChunks) {
  upgrade("release-6119abc.sql.gz", "from_6119abc");
  EXPECT_GT(query("SELECT count(*) FROM chunks")[0][0].as<int>(), 0);
  EXPECT_GT(query("SELECT count(*) FROM sample_blocks")[0][0].as<int>(), 0);
  check_upgrade();
}

// 8e4e7eb: version 1 blocks, each whole in `data` (migrations up to 0004).
TEST_F(UpgradeRelease, FromVersionOneBlocks) {
  upgrade("release-8e4e7eb.sql.gz", "from_8e4e7eb");
  EXPECT_GT(
      query("SELECT count(*) FROM sample_blocks WHERE get_byte(data, 0) = 1 AND tail = ''")[0][0]
          .as<int>(),
      0);
  EXPECT_GT(query("SELECT count(*) FROM sample_blocks WHERE get_byte(data || tail, 0) = 2")[0][0]
                .as<int>(),
            0);
  check_upgrade();
}

}  // namespace
}  // namespace metricsd::test
