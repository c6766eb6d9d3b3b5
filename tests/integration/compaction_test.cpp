// The storage engine's tiers against a real daemon: closed windows move from the inbox
// into sample blocks and rollup blocks with exact aggregates, late data merges, open windows wait,
// the `metrics` view shows every sample once, and retention drops old partitions.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <map>
#include <pqxx/pqxx>
#include <thread>

#include "core/block_format.hpp"
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
  struct Block {
    int64_t start_ms, end_ms, last_ts_ms;
    double last;
    int n;
    std::vector<int64_t> ts;
    std::vector<double> values;
  };
  // The node's sample blocks in window order, decoded.
  static std::vector<Block> sample_blocks(const std::string& node) {
    std::vector<Block> out;
    for (const auto& r : query(fmt::format(
             "SELECT b.start_ms, b.end_ms, b.last_ts_ms, b.last, b.n, encode(b.data || b.tail, "
             "'hex') "
             "FROM sample_blocks b JOIN series s USING (series_id) WHERE s.node_id = '{}' "
             "ORDER BY b.start_ms, b.last_ts_ms",
             node))) {
      Block b{r[0].as<int64_t>(),
              r[1].as<int64_t>(),
              r[2].as<int64_t>(),
              r[3].as<double>(),
              r[4].as<int>(),
              {},
              {}};
      decode_samples(unhex(r[5].as<std::string>()), b.ts, b.values);
      out.push_back(std::move(b));
    }
    return out;
  }
  // The node's buckets of a rollup tier, decoded, the parts of each bucket merged.
  static std::vector<RollupBucket> rollups(const std::string& table, const std::string& node) {
    std::map<int64_t, Aggregate> merged;
    for (const auto& r : query(fmt::format("SELECT encode(b.data || b.tail, 'hex') FROM {} b "
                                           "JOIN series s USING (series_id) WHERE s.node_id = '{}'",
                                           table, node))) {
      std::vector<RollupBucket> buckets;
      decode_rollups(unhex(r[0].as<std::string>()), buckets);
      for (const auto& b : buckets)
        merged[b.bucket_ms].merge(b.agg);
    }
    std::vector<RollupBucket> out;
    for (const auto& [t, a] : merged)
      out.push_back({t, a});
    return out;
  }
  static int rollups_rows(const std::string& table, const std::string& node) {
    return query(
               fmt::format("SELECT count(*) FROM {} b JOIN series s USING (series_id) "
                           "WHERE s.node_id = '{}'",
                           table, node))[0][0]
        .as<int>();
  }
  static std::string unhex(const std::string& hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2)
      out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    return out;
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

TEST_F(CompactionTest, ClosedWindowsBecomeBlocksAndRollupsWithExactAggregates) {
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
  auto blocks = sample_blocks("comp-1");
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0].start_ms, b);
  EXPECT_EQ(blocks[0].end_ms, b + kChunkWindowMs);
  EXPECT_EQ(blocks[0].n, 3);
  EXPECT_EQ(blocks[0].last, 3);
  EXPECT_EQ(blocks[0].last_ts_ms, b + 60'000);
  EXPECT_EQ(blocks[0].ts, (std::vector<int64_t>{b + 1000, b + 59'999, b + 60'000}));
  EXPECT_EQ(blocks[0].values, (std::vector<double>{1, 2, 3}));
  EXPECT_EQ(blocks[1].values, (std::vector<double>{10, 20}));
  auto minutes = rollups("rollup_1m_blocks", "comp-1");
  ASSERT_EQ(minutes.size(), 3u);
  EXPECT_EQ(minutes[0].bucket_ms, b);
  EXPECT_EQ(minutes[0].agg.n, 2);
  EXPECT_EQ(minutes[0].agg.sum, 3);
  EXPECT_EQ(minutes[0].agg.last, 2);
  EXPECT_EQ(minutes[1].bucket_ms, b + kMinuteMs);
  auto hours = rollups("rollup_1h_blocks", "comp-1");
  ASSERT_EQ(hours.size(), 1u);
  EXPECT_EQ(hours[0].agg.n, 5);
  EXPECT_EQ(hours[0].agg.sum, 36);
  EXPECT_EQ(hours[0].agg.min, 1);
  EXPECT_EQ(hours[0].agg.max, 20);
  EXPECT_EQ(hours[0].agg.last, 20);
  // Every sample is in the view exactly once.
  auto view = query("SELECT count(*), sum(value) FROM metrics WHERE node = 'comp-1'");
  EXPECT_EQ(view[0][0].as<int>(), 5);
  EXPECT_EQ(view[0][1].as<double>(), 36);
}

TEST_F(CompactionTest, LateDataAddsABlockAndMergesIntoRollups) {
  int64_t b = base_ms();
  write(fmt::format("late,node=comp-2 v=4 {}\nlate,node=comp-2 v=6 {}\n", b + 10, b + 20));
  ASSERT_TRUE(wait_inbox("comp-2"));
  write(fmt::format("late,node=comp-2 v=100 {}\nlate,node=comp-2 v=-1 {}\n", b + 15, b + 5));
  ASSERT_TRUE(wait_inbox("comp-2"));
  auto blocks = sample_blocks("comp-2");
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[0].n + blocks[1].n, 4);
  auto m = rollups("rollup_1m_blocks", "comp-2");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].agg.n, 4);
  EXPECT_EQ(m[0].agg.sum, 109);
  EXPECT_EQ(m[0].agg.min, -1);
  EXPECT_EQ(m[0].agg.max, 100);
  EXPECT_EQ(m[0].agg.last, 6);  // the latest timestamp (b+20), not the latest write
  EXPECT_EQ(m[0].agg.last_ts_ms, b + 20);
  EXPECT_EQ(query("SELECT count(*) FROM metrics WHERE node = 'comp-2'")[0][0].as<int>(), 4);
}

// A closed day's blocks (one per 10-minute window and pass) become one block per series
// and table, holding exactly what they held.
TEST_F(CompactionTest, ClosedDaysAreMergedIntoOneBlockPerSeries) {
  int64_t day = floor_to(wall_ms(), kDayMs) - 2 * kDayMs;
  std::vector<int64_t> ts;
  std::vector<double> vals;
  std::string lines;
  for (int i = 0; i < 200; ++i) {  // every 7 minutes: 200 samples over 23 h, ~140 windows
    ts.push_back(day + 1000 + i * 7 * kMinuteMs);
    vals.push_back(20 + (i % 13) * 0.1);
    lines += fmt::format("merge,node=comp-4 v={} {}\n", vals.back(), ts.back());
  }
  write(lines);
  // One more sample in a second write: its pass writes another block for the same day.
  write(fmt::format("merge,node=comp-4 v=99.5 {}\n", day + 3 * kMinuteMs));
  ts.insert(ts.begin() + 1, day + 3 * kMinuteMs);
  vals.insert(vals.begin() + 1, 99.5);
  ASSERT_TRUE(wait_inbox("comp-4"));
  bool merged = false;
  for (int i = 0; i < 100 && !merged; ++i) {
    merged = sample_blocks("comp-4").size() == 1 &&
             rollups_rows("rollup_1m_blocks", "comp-4") == 1 &&
             rollups_rows("rollup_1h_blocks", "comp-4") == 1;
    if (!merged) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(merged) << sample_blocks("comp-4").size() << " sample blocks";
  auto blocks = sample_blocks("comp-4");
  EXPECT_EQ(blocks[0].ts, ts);
  EXPECT_EQ(blocks[0].values, vals);
  EXPECT_EQ(blocks[0].n, 201);
  EXPECT_EQ(blocks[0].last_ts_ms, ts.back());
  EXPECT_EQ(blocks[0].start_ms, day);
  auto hours = rollups("rollup_1h_blocks", "comp-4");
  int64_t n = 0;
  for (const auto& h : hours)
    n += h.agg.n;
  EXPECT_EQ(n, 201);
  EXPECT_EQ(hours.front().agg.max, 99.5);
  EXPECT_EQ(query("SELECT count(*) FROM metrics WHERE node = 'comp-4'")[0][0].as<int>(), 201);
  // Then the merged day's partitions are rewritten (the merged-away blocks' space freed),
  // and hold the same samples.
  auto part = "sample_blocks_p" + format_rfc3339_ms(day).substr(0, 10).erase(4, 1).erase(6, 1);
  ASSERT_TRUE(eventually(
      [&] {
        return query("SELECT count(*) FROM block_partitions_packed WHERE relname = '" + part +
                     "'")[0][0]
                   .as<int>() == 1;
      },
      20s))
      << part << " not packed";
  EXPECT_EQ(sample_blocks("comp-4")[0].values, vals);
}

// A block is stored as whole TOAST chunks out of line (`data`, uncompressed) and the rest in
// the row (`tail`), in the partitions the daemon creates as in the parent tables.
TEST_F(CompactionTest, BlocksAreStoredAsWholeToastChunksAndATail) {
  int64_t day = floor_to(wall_ms(), kDayMs) - 3 * kDayMs;
  std::string lines;
  uint64_t x = 12345;
  for (int i = 0; i < 2000; ++i) {  // noisy values: about 4 bytes a sample, 4 chunks a day
    x = x * 6364136223846793005 + 1442695040888963407;
    lines +=
        fmt::format("split,node=comp-5 v={} {}\n", (x >> 30) % 1'000'000'000, day + i * 40'000);
  }
  write(lines);
  ASSERT_TRUE(wait_inbox("comp-5"));
  auto sizes = [] {
    return query(
        "SELECT octet_length(b.data), octet_length(b.tail), pg_column_size(b.data) "
        "FROM sample_blocks b JOIN series s USING (series_id) WHERE s.node_id = 'comp-5'");
  };
  ASSERT_TRUE(eventually([&] { return sizes().size() == 1; }, 20s)) << sizes().size() << " blocks";
  auto r = sizes()[0];
  int64_t data = r[0].as<int64_t>(), tail = r[1].as<int64_t>();
  EXPECT_GT(data, 0);
  EXPECT_EQ(data % 1996, 0) << data;
  EXPECT_LT(tail, 1996);
  EXPECT_GT(data + tail, 3 * 1996) << "the test's block is meant to span several chunks";
  EXPECT_EQ(r[2].as<int64_t>(), data) << "data is stored uncompressed";
  EXPECT_EQ(sample_blocks("comp-5")[0].ts.size(), 2000u);
  EXPECT_EQ(query("SELECT count(*) FROM metrics WHERE node = 'comp-5'")[0][0].as<int>(), 2000);
  auto part = "sample_blocks_p" + format_rfc3339_ms(day).substr(0, 10).erase(4, 1).erase(6, 1);
  for (const auto& table : {part, "rollup_1m_blocks" + part.substr(13)}) {
    auto storage =
        query(fmt::format("SELECT string_agg(attname || '=' || attstorage::text, ',' ORDER BY "
                          "attname) FROM pg_attribute "
                          "WHERE attrelid = '{}'::regclass AND attname IN ('data', 'tail')",
                          table));
    EXPECT_EQ(storage[0][0].as<std::string>(), "data=e,tail=m") << table;
  }
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
    for (const char* t : {"chunks", "sample_blocks", "rollup_1h", "rollup_1h_blocks"})
      tx.exec_params("SELECT metricsd_ensure_partition($1, $2)", t, old_day);
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
  int rollup_before = count_parts("rollup_1h"), blocks_before = count_parts("rollup_1h_blocks");
  auto day = format_rfc3339_ms(old_day).substr(0, 10).erase(4, 1).erase(6, 1);
  // The daemon may hold the upkeep lock at this moment; try until the old chunk day is gone.
  bool dropped = false;
  for (int i = 0; i < 50 && !dropped; ++i) {
    pqxx::connection c(conninfo());
    storage::maintain_partitions(c, now, ret);
    dropped =
        query(fmt::format("SELECT to_regclass('chunks_p{0}') IS NULL AND "
                          "to_regclass('sample_blocks_p{0}') IS NULL",
                          day))[0][0]
            .as<bool>();
    if (!dropped) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(dropped);
  // The 1-hour tier keeps 365 days: its 10-day-old partition stays.
  EXPECT_EQ(count_parts("rollup_1h"), rollup_before);
  EXPECT_EQ(count_parts("rollup_1h_blocks"), blocks_before);
  // Today's and tomorrow's partitions exist ahead of data.
  EXPECT_GE(count_parts("sample_blocks"), 2);
}

}  // namespace
}  // namespace metricsd::test
