// Data the previous release wrote (plain-array chunks, one rollup row per bucket) is read
// beside the blocks this release writes, through every tier, the `metrics` view and a
// restart (the head's latest values): both formats answer as one.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "core/clock.hpp"
#include "core/compaction.hpp"
#include "harness.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr int kPerHour = 120;  // samples 30 s apart

class Upgrade : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_ = std::make_unique<Daemon>(
        dir_.path(), std::vector<std::string>{"--ingest-compaction-interval-ms", "200ms"});
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
  }
  std::string conninfo() const {
    return "host=" + dir_.path().string() + "/run port=5432 user=postgres dbname=metricsd";
  }
  json get(const std::string& target) {
    auto r = http_request(daemon_->port(), "GET", target);
    EXPECT_EQ(r.status, 200) << target << " " << r.body;
    return json::parse(r.body, nullptr, false);
  }
  // The values of series 0 of a query, as (bucket, value) pairs.
  std::vector<std::pair<int64_t, double>> points(int64_t from, int64_t to,
                                                 const std::string& rest) {
    auto j = get(fmt::format("/api/v1/query?metric=up.v&node=u1&from={}&to={}&{}", from / 1000.0,
                             to / 1000.0, rest));
    std::vector<std::pair<int64_t, double>> out;
    if (j["series"].size() != 1) return out;
    for (const auto& p : j["series"][0]["points"])
      out.emplace_back(static_cast<int64_t>(p[0].get<double>() * 1000), p[1].get<double>());
    return out;
  }
  // Rows as the previous release's compaction wrote them: hour `h` of the series, value i
  // at base + i * 30 s for i in [h * 120, h * 120 + 120).
  void write_old_rows(int64_t series, int64_t base, int h) {
    pqxx::connection c(conninfo());
    pqxx::work tx(c);
    for (const char* t : {"chunks", "rollup_1m", "rollup_1h"})
      tx.exec_params("SELECT metricsd_ensure_partition($1, $2)", t, base);
    for (int w = 0; w < 6; ++w) {  // six 10-minute chunks of 20 samples
      std::string ts = "{", vals = "{";
      Aggregate agg;
      for (int i = 0; i < 20; ++i) {
        int v = h * kPerHour + w * 20 + i;
        int64_t t = base + static_cast<int64_t>(v) * 30'000;
        ts += (i ? "," : "") + std::to_string(t);
        vals += (i ? "," : "") + std::to_string(v);
        agg.add(t, v);
      }
      int64_t start = base + h * kHourMs + w * kChunkWindowMs;
      tx.exec_params(
          "INSERT INTO chunks (series_id, start_ms, end_ms, ts_ms, vals, n, sum, min, max, last, "
          "last_ts_ms) VALUES ($1, $2, $3, $4::bigint[], $5::float8[], $6, $7, $8, $9, $10, $11)",
          series, start, start + kChunkWindowMs, ts + "}", vals + "}", agg.n, agg.sum, agg.min,
          agg.max, agg.last, agg.last_ts_ms);
    }
    Aggregate hour;
    for (int m = 0; m < 60; ++m) {
      Aggregate minute;
      for (int i = 0; i < 2; ++i) {
        int v = h * kPerHour + m * 2 + i;
        minute.add(base + static_cast<int64_t>(v) * 30'000, v);
      }
      hour.merge(minute);
      tx.exec_params(
          "INSERT INTO rollup_1m (series_id, bucket_ms, n, sum, min, max, last, last_ts_ms) "
          "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
          series, base + h * kHourMs + m * kMinuteMs, minute.n, minute.sum, minute.min, minute.max,
          minute.last, minute.last_ts_ms);
    }
    tx.exec_params(
        "INSERT INTO rollup_1h (series_id, bucket_ms, n, sum, min, max, last, last_ts_ms) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        series, base + h * kHourMs, hour.n, hour.sum, hour.min, hour.max, hour.last,
        hour.last_ts_ms);
    tx.commit();
  }

  TempDir dir_;
  std::unique_ptr<Daemon> daemon_;
};

TEST_F(Upgrade, OldChunksAndRollupsAreReadBesideNewBlocks) {
  // Hour 0 as the previous release stored it, hour 1 written now (into blocks).
  const int64_t base = floor_to(wall_ms() - 4 * kHourMs, kHourMs);
  std::string lines;
  for (int i = kPerHour; i < 2 * kPerHour; ++i)
    lines += fmt::format("up,node=u1 v={} {}\n", i, base + static_cast<int64_t>(i) * 30'000);
  ASSERT_EQ(http_request(daemon_->port(), "POST", "/api/v1/write?precision=ms", lines).status, 204);
  ASSERT_TRUE(eventually(
      [&] { return metric_value(daemon_->port(), "metricsd_compaction_samples_total", 0) >= 120; },
      20s));
  int64_t series = 0;
  {
    pqxx::connection c(conninfo());
    pqxx::nontransaction tx(c);
    series = tx.exec("SELECT series_id FROM series WHERE node_id = 'u1'")[0][0].as<int64_t>();
    EXPECT_EQ(tx.exec("SELECT count(*) FROM chunks")[0][0].as<int>(), 0);
  }
  write_old_rows(series, base, 0);

  auto check = [&] {
    // Raw: every sample once, in order.
    auto raw = points(base, base + 2 * kHourMs, "step=30s&agg=max");
    ASSERT_EQ(raw.size(), 2u * kPerHour);
    for (int i = 0; i < 2 * kPerHour; ++i)
      ASSERT_EQ(raw[static_cast<size_t>(i)].second, i) << i;
    // 1-hour rollups: the old row and the new blocks.
    auto hours = points(base, base + 2 * kHourMs, "step=1h&agg=sum");
    ASSERT_EQ(hours.size(), 2u);
    EXPECT_EQ(hours[0].second, 119 * 120 / 2);
    EXPECT_EQ(hours[1].second, (239 * 240 - 119 * 120) / 2);
    // 1-minute rollups: each 10-minute bucket's max is its last sample.
    auto tens = points(base, base + 2 * kHourMs, "step=10m&agg=max");
    ASSERT_EQ(tens.size(), 12u);
    for (int k = 0; k < 12; ++k)
      EXPECT_EQ(tens[static_cast<size_t>(k)].second, 20 * k + 19) << k;
    pqxx::connection c(conninfo());
    pqxx::nontransaction tx(c);
    auto view = tx.exec("SELECT count(*), sum(value) FROM metrics WHERE node = 'u1'");
    EXPECT_EQ(view[0][0].as<int>(), 2 * kPerHour);
    EXPECT_EQ(view[0][1].as<double>(), 239 * 240 / 2);
  };
  check();
  // After a restart the head's latest value comes from the newest of both formats.
  daemon_.reset();
  SetUp();
  check();
  auto latest = get("/api/v1/latest?metric=up.v");
  ASSERT_EQ(latest.size(), 1u) << latest.dump();
  EXPECT_EQ(latest[0]["value"].get<double>(), 239);
}

}  // namespace
}  // namespace metricsd::test
