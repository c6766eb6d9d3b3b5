// The storage engine's tiers against a real daemon: closed windows move from the inbox
// into chunks and rollups with exact aggregates, late data merges, open windows wait,
// the `metrics` view shows every sample once, and retention drops old partitions.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <pqxx/pqxx>
#include <thread>

#include "core/clock.hpp"
#include "core/compaction.hpp"
#include "core/time_parse.hpp"
#include "harness.hpp"
#include "storage/compactor.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;

class CompactionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    daemon_ = new Daemon(dir_->path(), {"--ingest-compaction-interval-ms", "200ms"});
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete dir_;
  }
  static std::string conninfo() {
    return "host=" + dir_->path().string() + "/run port=5432 user=postgres dbname=metricsd";
  }
  static pqxx::result query(const std::string& sql) {
    pqxx::connection c(conninfo());
    pqxx::nontransaction tx(c);
    return tx.exec(sql);
  }
  static void write(const std::string& lines) {
    auto r = http_request(daemon_->port(), "POST", "/api/v1/write?precision=ms", lines);
    ASSERT_EQ(r.status, 204) << r.body;
  }
  // Waits until the node's samples have all left the inbox (or at most `keep` remain).
  static bool wait_inbox(const std::string& node, int keep = 0) {
    for (int i = 0; i < 100; ++i) {
      auto r =
          query(fmt::format("SELECT count(*) FROM inbox i, unnest(i.series_ids) sid JOIN series s "
                            "ON s.series_id = sid "
                            "WHERE s.node_id = '{}'",
                            node));
      if (r[0][0].as<int>() <= keep) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
  static TempDir* dir_;
  static Daemon* daemon_;
};
TempDir* CompactionTest::dir_ = nullptr;
Daemon* CompactionTest::daemon_ = nullptr;

// A window-aligned time two hours back, so every window used is closed.
int64_t base_ms() {
  return floor_to(wall_ms() - 2 * kHourMs, kHourMs);
}

TEST_F(CompactionTest, ClosedWindowsBecomeChunksAndRollupsWithExactAggregates) {
  int64_t b = base_ms();
  std::string lines;
  // Window 1 (b .. b+10m): 1, 2 in minute 0; 3 in minute 1. Window 2: 10, 20.
  for (auto [t, v] : std::vector<std::pair<int64_t, int>>{{b + 1000, 1},
                                                          {b + 59'999, 2},
                                                          {b + 60'000, 3},
                                                          {b + kChunkWindowMs, 10},
                                                          {b + kChunkWindowMs + 5, 20}})
    lines += fmt::format("c,node=comp-1 v={} {}\n", v, t);
  write(lines);
  ASSERT_TRUE(wait_inbox("comp-1"));
  auto chunks = query(
      "SELECT c.start_ms, c.end_ms, c.n, c.sum, c.min, c.max, c.last, c.ts_ms::text, c.vals::text "
      "FROM chunks c JOIN series s USING (series_id) WHERE s.node_id = 'comp-1' ORDER BY start_ms");
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0][0].as<int64_t>(), b);
  EXPECT_EQ(chunks[0][1].as<int64_t>(), b + kChunkWindowMs);
  EXPECT_EQ(chunks[0][2].as<int>(), 3);
  EXPECT_EQ(chunks[0][3].as<double>(), 6);
  EXPECT_EQ(chunks[0][4].as<double>(), 1);
  EXPECT_EQ(chunks[0][5].as<double>(), 3);
  EXPECT_EQ(chunks[0][6].as<double>(), 3);
  EXPECT_EQ(chunks[0][7].as<std::string>(),
            fmt::format("{{{},{},{}}}", b + 1000, b + 59'999, b + 60'000));
  EXPECT_EQ(chunks[0][8].as<std::string>(), "{1,2,3}");
  EXPECT_EQ(chunks[1][3].as<double>(), 30);
  auto minutes = query(
      "SELECT r.bucket_ms, r.n, r.sum, r.last FROM rollup_1m r JOIN series s USING (series_id) "
      "WHERE s.node_id = 'comp-1' ORDER BY bucket_ms");
  ASSERT_EQ(minutes.size(), 3u);
  EXPECT_EQ(minutes[0][0].as<int64_t>(), b);
  EXPECT_EQ(minutes[0][1].as<int>(), 2);
  EXPECT_EQ(minutes[0][2].as<double>(), 3);
  EXPECT_EQ(minutes[0][3].as<double>(), 2);
  EXPECT_EQ(minutes[1][0].as<int64_t>(), b + kMinuteMs);
  auto hours = query(
      "SELECT r.bucket_ms, r.n, r.sum, r.min, r.max, r.last FROM rollup_1h r "
      "JOIN series s USING (series_id) WHERE s.node_id = 'comp-1'");
  ASSERT_EQ(hours.size(), 1u);
  EXPECT_EQ(hours[0][1].as<int>(), 5);
  EXPECT_EQ(hours[0][2].as<double>(), 36);
  EXPECT_EQ(hours[0][3].as<double>(), 1);
  EXPECT_EQ(hours[0][4].as<double>(), 20);
  EXPECT_EQ(hours[0][5].as<double>(), 20);
  // Every sample is in the view exactly once.
  auto view = query("SELECT count(*), sum(value) FROM metrics WHERE node = 'comp-1'");
  EXPECT_EQ(view[0][0].as<int>(), 5);
  EXPECT_EQ(view[0][1].as<double>(), 36);
}

TEST_F(CompactionTest, LateDataAddsAChunkAndMergesIntoRollups) {
  int64_t b = base_ms();
  write(fmt::format("late,node=comp-2 v=4 {}\nlate,node=comp-2 v=6 {}\n", b + 10, b + 20));
  ASSERT_TRUE(wait_inbox("comp-2"));
  write(fmt::format("late,node=comp-2 v=100 {}\nlate,node=comp-2 v=-1 {}\n", b + 15, b + 5));
  ASSERT_TRUE(wait_inbox("comp-2"));
  auto chunks = query(
      "SELECT count(*), sum(n) FROM chunks c JOIN series s USING (series_id) "
      "WHERE s.node_id = 'comp-2'");
  EXPECT_EQ(chunks[0][0].as<int>(), 2);
  EXPECT_EQ(chunks[0][1].as<int>(), 4);
  auto m = query(
      "SELECT r.n, r.sum, r.min, r.max, r.last, r.last_ts_ms FROM rollup_1m r "
      "JOIN series s USING (series_id) WHERE s.node_id = 'comp-2'");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0][0].as<int>(), 4);
  EXPECT_EQ(m[0][1].as<double>(), 109);
  EXPECT_EQ(m[0][2].as<double>(), -1);
  EXPECT_EQ(m[0][3].as<double>(), 100);
  EXPECT_EQ(m[0][4].as<double>(), 6);  // the latest timestamp (b+20), not the latest write
  EXPECT_EQ(m[0][5].as<int64_t>(), b + 20);
  EXPECT_EQ(query("SELECT count(*) FROM metrics WHERE node = 'comp-2'")[0][0].as<int>(), 4);
}

TEST_F(CompactionTest, OpenWindowStaysInTheInbox) {
  write(fmt::format("open,node=comp-3 v=1 {}\n", wall_ms()));
  // A sample in a long-closed window, written after it: once a compaction pass has moved
  // that one, the pass has seen the open window's sample too, and left it.
  write(fmt::format("open,node=comp-3-closed v=1 {}\n", wall_ms() - 2 * 3'600'000));
  ASSERT_TRUE(wait_inbox("comp-3-closed"));
  auto r = query(
      "SELECT count(*) FROM inbox i, unnest(i.series_ids) sid JOIN series s ON s.series_id = sid "
      "WHERE s.node_id = 'comp-3'");
  EXPECT_EQ(r[0][0].as<int>(), 1);
  EXPECT_EQ(query("SELECT count(*) FROM metrics WHERE node = 'comp-3'")[0][0].as<int>(), 1);
}

TEST_F(CompactionTest, RetentionDropsWholeOldPartitionsAndKeepsRecentOnes) {
  int64_t now = wall_ms();
  int64_t old_day = now - 10 * 86'400'000LL;
  {
    pqxx::connection c(conninfo());
    pqxx::work tx(c);
    tx.exec_params("SELECT metricsd_ensure_partition('chunks', $1)", old_day);
    tx.exec_params("SELECT metricsd_ensure_partition('rollup_1h', $1)", old_day);
    tx.commit();
  }
  storage::Retention ret{7 * 86'400'000LL, 30 * 86'400'000LL, 365 * 86'400'000LL};
  auto count_parts = [&](const std::string& parent) {
    return query(
               "SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent "
               "WHERE p.relname = '" +
               parent + "'")[0][0]
        .as<int>();
  };
  int rollup_before = count_parts("rollup_1h");
  // The daemon may hold the upkeep lock at this moment; try until the old chunk day is gone.
  bool dropped = false;
  for (int i = 0; i < 50 && !dropped; ++i) {
    pqxx::connection c(conninfo());
    storage::maintain_partitions(c, now, ret);
    dropped =
        query(fmt::format("SELECT to_regclass('chunks_p{}') IS NULL",
                          format_rfc3339_ms(old_day).substr(0, 10).erase(4, 1).erase(6, 1)))[0][0]
            .as<bool>();
    if (!dropped) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(dropped);
  // The 1-hour tier keeps 365 days: its 10-day-old partition stays.
  EXPECT_EQ(count_parts("rollup_1h"), rollup_before);
  // Today's and tomorrow's partitions exist ahead of data.
  EXPECT_GE(count_parts("chunks"), 2);
}

}  // namespace
}  // namespace metricsd::test
