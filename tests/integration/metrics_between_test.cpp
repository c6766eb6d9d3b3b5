// metrics_between(from, to [, metric, node]) (migrations/0008): the rows of the `metrics`
// view in the range, from sample blocks, the inbox and chunks alike, while decoding only
// the blocks whose time bounds overlap the range. Decoded blocks are counted as calls of
// the PL/pgSQL decoder (track_functions), in one snapshot with the tables they came from.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <chrono>
#include <pqxx/pqxx>

#include "core/block_format.hpp"
#include "harness.hpp"

namespace metricsd::test {
namespace {

constexpr int64_t kHour = 3'600'000;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string hex(const std::string& bytes) {
  std::string out;
  for (unsigned char c : bytes)
    out += fmt::format("{:02x}", c);
  return out;
}

class MetricsBetween : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    daemon_ = new Daemon(dir_->path(), {});
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
    // 120 one-hour blocks of 6 samples each, for the five days before the last hour, of
    // two series; written as compaction would, straight into sample_blocks.
    pqxx::connection c(conninfo());
    pqxx::work tx(c);
    base_ = (now_ms() - 121 * kHour) / kHour * kHour;
    for (const char* node : {"mb-a", "mb-b"}) {
      int64_t sid = tx.exec_params(
                          "INSERT INTO series (metric, category, node_id, labels, labels_key) "
                          "VALUES ('mb.temp', 'mb', $1, '{\"gpu\":\"0\"}', 'gpu=0') "
                          "RETURNING series_id",
                          node)[0][0]
                        .as<int64_t>();
      for (int h = 0; h < 120; ++h) {
        int64_t start = base_ + h * kHour;
        std::vector<int64_t> ts;
        std::vector<double> vals;
        for (int i = 0; i < 6; ++i) {
          ts.push_back(start + i * 600'000 + 1234);
          vals.push_back(h + i / 10.0 + (node[3] == 'b' ? 1000 : 0));
        }
        tx.exec_params("SELECT metricsd_ensure_partition('sample_blocks', $1)", start);
        tx.exec_params(
            "INSERT INTO sample_blocks (series_id, start_ms, end_ms, last_ts_ms, last, n, data) "
            "VALUES ($1, $2, $3, $4, $5, 6, decode($6, 'hex'))",
            sid, start, start + kHour, ts.back(), vals.back(), hex(encode_samples(ts, vals)));
      }
    }
    tx.commit();
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete dir_;
  }
  static std::string conninfo() {
    return "host=" + dir_->path().string() + "/run port=5432 user=postgres dbname=metricsd";
  }
  static std::string at(int64_t ms) { return fmt::format("to_timestamp({} / 1000.0)", ms); }

  // In one snapshot: the rows of metrics_between and of the view for [from, to], the blocks
  // metrics_between decoded, the blocks overlapping the range and all blocks.
  struct Read {
    std::vector<std::string> between, view;
    int64_t decoded = 0, overlapping = 0, blocks = 0;
  };
  static Read read(int64_t from, int64_t to, const std::string& filter_args,
                   const std::string& view_filter) {
    pqxx::connection c(conninfo());
    pqxx::nontransaction(c).exec("SET track_functions = 'pl'");
    pqxx::transaction<pqxx::isolation_level::repeatable_read> tx(c);
    auto rows = [&](const std::string& sql) {
      std::vector<std::string> out;
      for (const auto& r : tx.exec(sql))
        out.push_back(fmt::format("{} {} {} {} {}", r[0].c_str(), r[1].c_str(), r[2].c_str(),
                                  r[3].c_str(), r[4].c_str()));
      return out;
    };
    auto calls = [&] {
      auto r = tx.exec(
          "SELECT coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions "
          "WHERE funcname = 'metricsd_decode_samples'");
      return r[0][0].as<int64_t>();
    };
    Read out;
    int64_t before = calls();
    out.between =
        rows(fmt::format("SELECT time, metric, node, labels, value FROM metrics_between({}, {}{}) "
                         "ORDER BY node, time, value",
                         at(from), at(to), filter_args));
    out.decoded = calls() - before;
    out.view = rows(fmt::format(
        "SELECT time, metric, node, labels, value FROM metrics WHERE time BETWEEN {} AND {}{} "
        "ORDER BY node, time, value",
        at(from), at(to), view_filter));
    out.overlapping =
        tx.exec(fmt::format("SELECT count(*) FROM sample_blocks b JOIN (SELECT series_id, "
                            "metric, node_id AS node FROM series) s USING (series_id) WHERE "
                            "start_ms <= {} AND end_ms > "
                            "{}{}",
                            to, from, view_filter))[0][0]
            .as<int64_t>();
    out.blocks = tx.exec("SELECT count(*) FROM sample_blocks")[0][0].as<int64_t>();
    return out;
  }

  static TempDir* dir_;
  static Daemon* daemon_;
  static int64_t base_;
};
TempDir* MetricsBetween::dir_ = nullptr;
Daemon* MetricsBetween::daemon_ = nullptr;
int64_t MetricsBetween::base_ = 0;

TEST_F(MetricsBetween, AnHourOfFiveDaysDecodesOnlyTheBlocksThatOverlapIt) {
  // From inside hour 50 to inside hour 51: those two blocks of each series, and the view's
  // rows exactly (the bounds are inclusive: a sample at `to` itself is in).
  int64_t from = base_ + 50 * kHour + 5 * 60'000, to = base_ + 51 * kHour + 1234 + 1'200'000;
  auto r = read(from, to, "", " AND metric = 'mb.temp'");
  EXPECT_EQ(r.between, r.view);
  EXPECT_EQ(r.between.size(), 2u * (5 + 3));
  EXPECT_EQ(r.decoded, r.overlapping);
  EXPECT_GE(r.decoded, 2);  // the daemon may have merged the day's blocks into one a series
  EXPECT_LE(r.decoded, 4);
  EXPECT_GE(r.blocks, 10);  // the whole store: five days of two series
}

TEST_F(MetricsBetween, MetricAndNodeFiltersAndAnEmptyRange) {
  int64_t from = base_ + 10 * kHour, to = base_ + 100 * kHour;
  auto r = read(from, to, ", 'mb.temp', 'mb-b'", " AND metric = 'mb.temp' AND node = 'mb-b'");
  EXPECT_EQ(r.between, r.view);
  EXPECT_EQ(r.between.size(), 90u * 6);  // hours 10..99 (hour 100's first sample is past `to`)
  EXPECT_EQ(r.decoded, r.overlapping);
  for (const auto& row : r.between)
    EXPECT_NE(row.find(" mb-b "), std::string::npos) << row;
  auto none = read(base_ - 40 * kHour, base_ - 30 * kHour, "", "");
  EXPECT_TRUE(none.between.empty());
  EXPECT_EQ(none.decoded, 0);
  auto unknown = read(from, to, ", 'no.such.metric'", " AND metric = 'no.such.metric'");
  EXPECT_TRUE(unknown.between.empty());
  EXPECT_EQ(unknown.decoded, 0);
  // Backwards: nothing, not an error.
  EXPECT_TRUE(read(to, from, "", "").between.empty());
}

TEST_F(MetricsBetween, RecentSamplesFromTheInboxAreIncluded) {
  int64_t t = now_ms() / 1000 * 1000 - 30'000;
  auto res = http_request(daemon_->port(), "POST", "/api/v1/metrics",
                          fmt::format(R"({{"node":"mb-a","ts":{},"metrics":{{"mb.recent":7.5}},
                          "samples":[{{"metric":"mb.recent","value":8.5,"ts":{}}}]}})",
                                      t / 1000, t / 1000 + 1));
  ASSERT_EQ(res.status, 200) << res.body;
  auto r = read(t - 60'000, t + 60'000, ", 'mb.recent'", " AND metric = 'mb.recent'");
  EXPECT_EQ(r.between, r.view);
  ASSERT_EQ(r.between.size(), 2u);
  EXPECT_NE(r.between[0].find(" 7.5"), std::string::npos) << r.between[0];
}

TEST_F(MetricsBetween, NotExecutableByPublic) {
  pqxx::connection c(conninfo());
  pqxx::work tx(c);
  EXPECT_FALSE(tx.exec("SELECT has_function_privilege('public', "
                       "'metrics_between(timestamptz, timestamptz, text, text)', 'EXECUTE')")[0][0]
                   .as<bool>());
}

}  // namespace
}  // namespace metricsd::test
