// The in-memory head against the real daemon: it holds what is in the inbox, loses what
// compaction moves, is rebuilt after a kill, and stays bounded by ingest.max_head_samples.
#include <signal.h>

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <pqxx/pqxx>
#include <thread>

#include "core/clock.hpp"
#include "core/compaction.hpp"
#include "core/time_parse.hpp"
#include "harness.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;

double gauge(int port, const std::string& name) {
  return metric_value(port, name, -1);
}

bool wait_gauge(int port, const std::string& name, double want, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (gauge(port, name) == want) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

void write_lines(int port, const std::string& lines) {
  auto r = http_request(port, "POST", "/api/v1/write?precision=ms", lines);
  ASSERT_EQ(r.status, 204) << r.body;
}

TEST(HeadTest, HoldsTheInboxLosesCompactedSamplesAndIsRebuiltAfterKill) {
  TempDir dir;
  std::vector<std::string> args = {"--ingest-compaction-interval-ms", "200ms"};
  auto d = std::make_unique<Daemon>(dir.path(), args);
  ASSERT_TRUE(d->wait_ready()) << d->log();
  int64_t now = wall_ms();
  int64_t old = floor_to(now - 2 * kHourMs, kHourMs);
  // Two requests, so the old samples are an inbox row of their own (a row is compacted
  // only when all of its samples lie in closed windows).
  std::string recent, past;
  for (int i = 0; i < 10; ++i)
    recent += fmt::format("recent,node=h1 v={} {}\n", i, now - i);
  for (int i = 0; i < 5; ++i)
    past += fmt::format("old,node=h1 v={} {}\n", i, old + i);
  write_lines(d->port(), recent);
  write_lines(d->port(), past);
  EXPECT_EQ(gauge(d->port(), "metricsd_head_samples"), 15);
  // The old window is compacted (after the settle time); its samples leave the head.
  EXPECT_TRUE(wait_gauge(d->port(), "metricsd_head_samples", 10, 20s)) << d->log();
  d->signal(SIGKILL);
  ASSERT_TRUE(d->wait_exit(5s).has_value());
  d = std::make_unique<Daemon>(dir.path(), args);
  ASSERT_TRUE(d->wait_ready()) << d->log();
  EXPECT_EQ(gauge(d->port(), "metricsd_head_samples"), 10);
  // Both series have a latest value: one from the inbox, one from its chunk.
  EXPECT_EQ(gauge(d->port(), "metricsd_head_series"), 2);
  EXPECT_NE(d->log().find("head rebuilt from the inbox: 10 samples of 2 series"), std::string::npos)
      << d->log();
}

TEST(HeadTest, CompactionTakesOpenWindowsWhenTheHeadIsFull) {
  TempDir dir;
  Daemon d(dir.path(),
           {"--ingest-compaction-interval-ms", "200ms", "--ingest-max-head-samples", "10000"});
  ASSERT_TRUE(d.wait_ready()) << d.log();
  int64_t now = wall_ms();
  std::string lines;
  for (int i = 0; i < 15000; ++i)
    lines += fmt::format("busy,node=h2,k=k{} v={} {}\n", i % 50, i, now - 15000 + i);
  write_lines(d.port(), lines);
  EXPECT_EQ(gauge(d.port(), "metricsd_head_samples"), 15000);
  ASSERT_TRUE(wait_gauge(d.port(), "metricsd_head_samples", 0, 30s)) << d.log();
  pqxx::connection c("host=" + dir.path().string() +
                     "/run port=5432 user=postgres dbname=metricsd");
  pqxx::nontransaction tx(c);
  EXPECT_EQ(tx.exec("SELECT count(*) FROM inbox")[0][0].as<int>(), 0);
  EXPECT_EQ(tx.exec("SELECT sum(n) FROM sample_blocks")[0][0].as<int>(), 15000);
  EXPECT_EQ(tx.exec("SELECT count(*) FROM metrics WHERE node = 'h2'")[0][0].as<int>(), 15000);
}

}  // namespace
}  // namespace metricsd::test
