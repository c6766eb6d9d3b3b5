// The rollup day cache (query.cache_mb) against a real daemon: repeated queries are
// answered from cached days plus the head, late samples count exactly once before and
// after the compaction that invalidates their day, a tiny cache or none gives the same
// answers, and query.timeout_ms still cancels a slow database read with a 503.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <algorithm>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <thread>

#include "core/clock.hpp"
#include "core/compaction.hpp"
#include "core/time_parse.hpp"
#include "harness.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

void write_lines(int port, const std::string& lines) {
  auto r = http_request(port, "POST", "/api/v1/write?precision=ms", lines);
  ASSERT_EQ(r.status, 204) << r.body;
}

// Writes `lines` in requests of at most 5000 lines.
void write_batched(int port, const std::vector<std::string>& lines) {
  std::string batch;
  size_t n = 0;
  for (const auto& l : lines) {
    batch += l;
    if (++n % 5000 == 0) {
      write_lines(port, batch);
      batch.clear();
    }
  }
  if (!batch.empty()) write_lines(port, batch);
}

bool wait_for(int port, const std::string& series, double at_least, std::chrono::seconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (metric_value(port, series, -1) >= at_least) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

const std::string kCompacted = "metricsd_compaction_samples_total";
const std::string kHits = R"(metricsd_query_cache_total{result="hit"})";
const std::string kMisses = R"(metricsd_query_cache_total{result="miss"})";

json get(int port, const std::string& target) {
  auto r = http_request(port, "GET", target);
  EXPECT_EQ(r.status, 200) << target << " " << r.body;
  return json::parse(r.body, nullptr, false);
}

TEST(QueryCache, RepeatedQueriesUseCachedDaysAndStayExactThroughLateData) {
  TempDir dir;
  Daemon d(dir.path(), {"--ingest-compaction-interval-ms", "200ms"});
  ASSERT_TRUE(d.wait_ready()) << d.log();
  const int port = d.port();
  // Two hours, three hours back: value i every 30 s, so minute m sums to 4m + 1.
  const int64_t base = floor_to(wall_ms() - 3 * kHourMs, kHourMs);
  std::string lines;
  for (int i = 0; i < 240; ++i)
    lines += fmt::format("cache,node=c1 v={} {}\n", i, base + i * 30'000);
  write_lines(port, lines);
  ASSERT_TRUE(wait_for(port, kCompacted, 240, 60s)) << "no compaction";

  const std::string minutes =
      fmt::format("/api/v1/query?metric=cache.v&node=c1&from={}&to={}&step=1m&agg=sum", base / 1000,
                  (base + 2 * kHourMs) / 1000);
  const std::string hours =
      fmt::format("/api/v1/query?metric=cache.v&node=c1&from={}&to={}&step=1h&agg=sum", base / 1000,
                  (base + 2 * kHourMs) / 1000);
  auto minute_sum = [&](const json& j, size_t m) {
    return j["series"][0]["points"][m][1].get<double>();
  };
  // An export reads the same days but does not keep them (it would push out the rest).
  auto csv = http_request(port, "GET", minutes + "&format=csv");
  ASSERT_EQ(csv.status, 200) << csv.body;
  EXPECT_EQ(std::count(csv.body.begin(), csv.body.end(), '\n'), 121);
  EXPECT_EQ(metric_value(port, "metricsd_query_cache_entries", -1), 0);

  double hits = metric_value(port, kHits, 0), misses = metric_value(port, kMisses, 0);
  json first = get(port, minutes);
  ASSERT_EQ(first["series"][0]["points"].size(), 120u);
  for (size_t m = 0; m < 120; ++m)
    ASSERT_EQ(minute_sum(first, m), 4.0 * static_cast<double>(m) + 1) << "minute " << m;
  EXPECT_EQ(metric_value(port, kMisses, 0), misses + 1);  // read from PostgreSQL, kept
  EXPECT_EQ(get(port, minutes), first);
  EXPECT_EQ(metric_value(port, kHits, 0), hits + 1);  // then answered from memory

  // A late sample in minute 0 waits in the head: cached days plus the head count it once.
  write_lines(port, fmt::format("cache,node=c1 v=1000 {}\n", base + 45'000));
  json late = get(port, minutes);
  EXPECT_EQ(metric_value(port, kHits, 0), hits + 2);
  EXPECT_EQ(minute_sum(late, 0), 1001);
  EXPECT_EQ(minute_sum(late, 1), 5);
  EXPECT_EQ(get(port, hours)["series"][0]["points"][0][1].get<double>(), 119 * 120 / 2 + 1000);

  // Its compaction merges it into the stored minute and drops the cached day: the next
  // read goes to PostgreSQL again and still counts it once.
  ASSERT_TRUE(wait_for(port, kCompacted, 241, 60s)) << "late sample not compacted";
  misses = metric_value(port, kMisses, 0);
  json after = get(port, minutes);
  EXPECT_EQ(metric_value(port, kMisses, 0), misses + 1);
  EXPECT_EQ(after, late);
  EXPECT_EQ(get(port, minutes), late);
  EXPECT_EQ(get(port, hours)["series"][0]["points"][0][1].get<double>(), 119 * 120 / 2 + 1000);
  EXPECT_GT(metric_value(port, "metricsd_query_cache_bytes", 0), 0);
}

// 40 series with a sample every minute of one whole day, two days back (series s at s
// seconds into the minute).
std::vector<std::string> day_of_minutes(int64_t day) {
  std::vector<std::string> lines;
  for (int m = 0; m < 1440; ++m)
    for (int s = 0; s < 40; ++s)
      lines.push_back(fmt::format("day,node=n{},s=x v={} {}\n", s, (m * 7 + s * 13) % 1000 + 0.25,
                                  day + m * kMinuteMs + 1000 * (s % 50)));
  return lines;
}

TEST(QueryCache, NoCacheAndATinyCacheGiveTheSameAnswers) {
  const int64_t day = floor_to(wall_ms() - 2 * 86'400'000, 86'400'000);
  const auto lines = day_of_minutes(day);
  const std::string target = fmt::format("/api/v1/query?metric=day.v&from={}&to={}&step=1m&agg=avg",
                                         day / 1000 + 20, (day + 86'400'000) / 1000 - 30);
  const std::string hourly = fmt::format("/api/v1/query?metric=day.v&from={}&to={}&step=2h&agg=max",
                                         day / 1000, (day + 86'400'000) / 1000);
  std::vector<json> answers;
  for (const char* mb : {"0", "1"}) {
    TempDir dir;
    Daemon d(dir.path(), {"--ingest-compaction-interval-ms", "200ms", "--query-cache-mb", mb});
    ASSERT_TRUE(d.wait_ready()) << d.log();
    write_batched(d.port(), lines);
    ASSERT_TRUE(wait_for(d.port(), kCompacted, 40 * 1440, 120s)) << "no compaction";
    for (int round = 0; round < 3; ++round) {
      json a = get(d.port(), target);
      ASSERT_EQ(a["series"].size(), 40u);
      // Series s samples at s seconds into each minute; the ends are not whole minutes, so
      // its first minute counts only if s >= 20 and its last only if s < 30 (read raw).
      for (const auto& s : a["series"]) {
        int sec = std::stoi(s["node"].get<std::string>().substr(1));
        ASSERT_EQ(s["points"].size(), 1438u + (sec >= 20) + (sec < 30)) << s["node"];
      }
      answers.push_back(a);
      answers.push_back(get(d.port(), hourly));
      answers.push_back(get(d.port(), hourly));  // its 40 small days were just kept
    }
    if (std::string(mb) == "0") {
      EXPECT_EQ(metric_value(d.port(), kHits, 0), 0);
      EXPECT_EQ(metric_value(d.port(), "metricsd_query_cache_bytes", -1), 0);
    } else {
      // 40 days of 1440 rows do not fit in 1 MiB: the cache evicts and stays in its bound.
      EXPECT_GT(metric_value(d.port(), "metricsd_query_cache_evictions", 0), 0);
      EXPECT_LE(metric_value(d.port(), "metricsd_query_cache_bytes", -1), 1 << 20);
      EXPECT_GE(metric_value(d.port(), kHits, 0), 3);  // the 1-hour days fit
    }
  }
  ASSERT_EQ(answers.size(), 18u);
  for (size_t i = 3; i < answers.size(); ++i)
    EXPECT_EQ(answers[i], answers[i % 3 == 2 ? 1 : i % 3]) << "answer " << i;
  // Spot-check the maths: series n0, minute 5 of the day holds one sample, 5 * 7 + 0.25.
  for (const auto& s : answers[0]["series"]) {
    if (s["node"] == "n0") {
      EXPECT_EQ(s["points"][4][0].get<int64_t>(), day + 5 * kMinuteMs);  // minute 0 is out
      EXPECT_EQ(s["points"][4][1].get<double>(), 35.25);
    }
  }
}

// A read that waits in the database past query.timeout_ms is cancelled there and answered
// 503. The wait is made certain: another session holds the block table locked.
TEST(QueryCache, QueryTimeoutCancelsASlowDatabaseReadWith503) {
  TempDir dir;
  Daemon d(dir.path(), {"--ingest-compaction-interval-ms", "200ms", "--query-timeout-ms", "100ms",
                        "--query-cache-mb", "0"});
  ASSERT_TRUE(d.wait_ready()) << d.log();
  const int64_t first = floor_to(wall_ms() - 4 * kHourMs, kHourMs);
  std::vector<std::string> lines;
  for (int k = 0; k < 100; ++k)
    for (int s = 0; s < 10; ++s)
      lines.push_back(fmt::format("slow,node=t{} v={} {}\n", s, k % 97 + 0.5, first + k * 2000));
  write_batched(d.port(), lines);
  ASSERT_TRUE(wait_for(d.port(), kCompacted, 10.0 * 100, 60s)) << "no compaction";
  pqxx::connection locker("host=" + dir.path().string() +
                          "/run port=5432 user=postgres dbname=metricsd");
  pqxx::work lock(locker);
  lock.exec("LOCK TABLE sample_blocks IN ACCESS EXCLUSIVE MODE");
  auto started = std::chrono::steady_clock::now();
  auto r = http_request(d.port(), "GET",
                        fmt::format("/api/v1/query?metric=slow.v&from={}&to={}&step=1s",
                                    first / 1000 + 1, first / 1000 + 3 * 3600 - 1));
  ASSERT_EQ(r.status, 503) << r.body.substr(0, 300);
  EXPECT_NE(r.body.find("query.timeout_ms (100 ms)"), std::string::npos) << r.body;
  EXPECT_EQ(r.headers["retry-after"], "1");
  // Cancelled at the deadline, not when the lock went.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  lock.abort();
  // The read connection is still usable: a small query answers.
  auto ok = http_request(d.port(), "GET",
                         fmt::format("/api/v1/query?metric=slow.v&node=t1&from={}&to={}&step=1h",
                                     first / 1000, first / 1000 + 3 * 3600));
  EXPECT_EQ(ok.status, 200) << ok.body;
}

}  // namespace
}  // namespace metricsd::test
