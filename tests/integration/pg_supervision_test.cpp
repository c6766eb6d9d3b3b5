// The embedded PostgreSQL is supervised: its postmaster killed (kill -9) under a write load
// is started again without a restart of metricsd, writes succeed again, and every sample
// acknowledged before, during and after is stored; one that cannot come back turns the
// daemon not ready (the reason, the gauges), then it exits non-zero within the bound so the
// service manager takes over.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "harness.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

TEST(PgSupervision, PostmasterKilledUnderLoadComesBackAndNothingAcknowledgedIsLost) {
  TempDir dir;
  // Without auth, so every refusal is the ingest path's (a token whose cache entry expires
  // while the database is down is refused by the authorizer instead).
  Daemon d(dir.path(), {"--auth-mode", "disabled"});
  ASSERT_TRUE(d.wait_ready()) << d.log();
  const pid_t first = embedded_postgres_pid(dir.path());
  ASSERT_GT(first, 0);

  // One writer: a sample a request, every 10 ms, value = its sequence number, one second
  // apart in time from a base three hours ago.
  const int64_t base_s = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count() -
                         3 * 3600;
  std::atomic<bool> stop{false};
  std::atomic<int> acked{0}, refused{0}, refused_without_retry_after{0}, after_restart{0};
  std::atomic<bool> restarted{false};
  std::vector<int> acked_seq;
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      json body = {{"node", "sup-1"},
                   {"samples", {{{"metric", "sup.seq"}, {"value", i}, {"ts", base_s + i}}}}};
      auto r = http_request(d.port(), "POST", "/api/v1/metrics", body.dump(),
                            {{"Content-Type", "application/json"}});
      if (r.status / 100 == 2) {
        acked_seq.push_back(i);
        ++acked;
        if (restarted) ++after_restart;
      } else {
        ++refused;
        if (r.status != 503 || r.header("retry-after").empty()) ++refused_without_retry_after;
      }
      std::this_thread::sleep_for(10ms);
    }
  });
  ASSERT_TRUE(eventually([&] { return acked > 20; })) << d.log();
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  EXPECT_TRUE(eventually(
      [&] {
        return d.log().find("the embedded PostgreSQL exited (killed by signal 9)") !=
               std::string::npos;
      },
      5s))
      << d.log();
  ASSERT_TRUE(eventually(
      [&] { return metric_value(d.port(), "metricsd_embedded_postgres_restarts_total", 0) == 1; },
      30s))
      << d.log();
  restarted = true;
  EXPECT_TRUE(eventually([&] { return after_restart > 20; }, 20s)) << d.log();
  stop = true;
  writer.join();
  EXPECT_TRUE(d.wait_ready(10s));
  EXPECT_EQ(metric_value(d.port(), "metricsd_database_ready", -1), 1);
  EXPECT_EQ(metric_value(d.port(), "metricsd_embedded_postgres_up", -1), 1);
  const pid_t second = embedded_postgres_pid(dir.path());
  EXPECT_GT(second, 0);
  EXPECT_NE(second, first);
  EXPECT_EQ(refused_without_retry_after, 0) << "every refusal is a 503 with Retry-After";
  // Every refusal counted once, by its reason.
  EXPECT_EQ(
      metric_value(d.port(), "metricsd_ingest_rejected_requests_total{reason=\"unavailable\"}", 0) +
          metric_value(d.port(), "metricsd_ingest_rejected_requests_total{reason=\"overloaded\"}",
                       0) +
          metric_value(d.port(), "metricsd_ingest_rejected_requests_total{reason=\"error\"}", 0),
      refused.load());

  // Every acknowledged sample is stored, once.
  const int64_t from_ms = base_s * 1000;
  auto r = http_request(d.port(), "GET",
                        "/api/v1/query?metric=sup.seq&node=sup-1&from=" + std::to_string(base_s) +
                            "&to=" + std::to_string(base_s + 10800) + "&step=1s&agg=count");
  ASSERT_EQ(r.status, 200) << r.body;
  json q = json::parse(r.body);
  ASSERT_EQ(q["series"].size(), 1u) << r.body;
  std::set<int64_t> stored;
  for (const auto& p : q["series"][0]["points"]) {
    EXPECT_EQ(p[1].get<double>(), 1) << "stored twice: " << p.dump();
    stored.insert((p[0].get<int64_t>() - from_ms) / 1000);
  }
  for (int i : acked_seq)
    EXPECT_TRUE(stored.count(i)) << "acknowledged and lost: " << i;
  // New embedded clusters have data checksums (a corrupted page is found, not read as data).
  pqxx::connection c("host=" + dir.path().string() +
                     "/run port=5432 user=postgres dbname=metricsd");
  EXPECT_EQ(pqxx::nontransaction(c).exec1("SHOW data_checksums")[0].as<std::string>(), "on");
}

TEST(PgSupervision, OneThatCannotComeBackIsNotReadyThenTheDaemonExitsNonZero) {
  TempDir dir;
  Daemon d(dir.path(), {"--database-embedded-restart-timeout-ms", "4s"});
  ASSERT_TRUE(d.wait_ready()) << d.log();
  const pid_t pg = embedded_postgres_pid(dir.path());
  ASSERT_GT(pg, 0);
  // PostgreSQL refuses a data directory it cannot use: every restart fails.
  const auto pgdata = dir.path() / "postgres";
  ASSERT_EQ(::chmod(pgdata.c_str(), 0), 0);
  ASSERT_EQ(::kill(pg, SIGKILL), 0);
  EXPECT_TRUE(eventually(
      [&] {
        auto r = http_request(d.port(), "GET", "/readyz");
        return r.status == 503 && r.body.find("embedded PostgreSQL") != std::string::npos;
      },
      5s))
      << d.log();
  EXPECT_EQ(metric_value(d.port(), "metricsd_database_ready", -1), 0);
  EXPECT_EQ(metric_value(d.port(), "metricsd_embedded_postgres_up", -1), 0);
  auto w = http_request(d.port(), "POST", "/api/v1/metrics",
                        R"({"node":"sup-2","samples":[{"metric":"a.b","value":1}]})",
                        {{"Content-Type", "application/json"}});
  EXPECT_EQ(w.status, 503);
  EXPECT_FALSE(w.header("retry-after").empty());
  EXPECT_EQ(d.wait_exit(30s), 1) << d.log();
  EXPECT_NE(d.log().find("could not be started again"), std::string::npos) << d.log();
  ::chmod(pgdata.c_str(), 0700);
}

}  // namespace
}  // namespace metricsd::test
