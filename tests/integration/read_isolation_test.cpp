// Slow reads cannot starve writes: queries run on storage threads of their own
// (database.read_pool_size), so while heavy queries queue for the single read thread, JSON
// writes and heartbeats, which use the main pool and the group commit, are still answered.
// The proof is an order, not a time: every write and heartbeat completes before the last
// of the queued reads does.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.hpp"
#include "harness.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr int64_t kHourMs = 3'600'000;

// The value of one series in the daemon's /metrics (-1 when absent).
double scrape(int port, const std::string& series) {
  return metric_value(port, series, -1);
}

// Polls /metrics until pred(value of `series`) holds; false at the deadline.
template <class Pred>
bool wait_metric(int port, const std::string& series, Pred pred, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred(scrape(port, series))) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

// kSeries series of `load.v` (node r1, label s), kSamples each, spread over the last 6 h
// and written oldest first, so all but the newest requests lie in closed windows and are
// compacted into blocks: the reads then fetch and decode them, not read the head.
void load(int port, int series, int samples) {
  const int64_t now = wall_ms();
  const int64_t first = now - 6 * kHourMs + 60'000;
  const int64_t gap = (6 * kHourMs - 120'000) / samples;
  std::string lines;
  int in_batch = 0;
  auto flush = [&] {
    auto r = http_request(port, "POST", "/api/v1/write?precision=ms", lines);
    ASSERT_EQ(r.status, 204) << r.body;
    lines.clear();
    in_batch = 0;
  };
  for (int k = 0; k < samples; ++k)
    for (int s = 0; s < series; ++s) {
      lines += fmt::format("load,node=r1,s=s{} v={} {}\n", s, 1.5 + (k + s) % 100, first + k * gap);
      if (++in_batch == 5000) {
        flush();
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  if (in_batch > 0) flush();
}

TEST(ReadIsolation, QueuedSlowReadsDoNotHoldUpWritesOrHeartbeats) {
  constexpr int kSeries = 100, kSamples = 2000, kReads = 6, kWrites = 20, kHeartbeats = 5;
  TempDir dir;
  Daemon daemon(dir.path(), {"--database-read-pool-size", "1", "--query-timeout-ms", "60s",
                             "--ingest-compaction-interval-ms", "200ms"});
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const int port = daemon.port();
  load(port, kSeries, kSamples);
  if (HasFatalFailure()) return;
  // Most of it compacted (what is under ~11 min old stays in the head).
  ASSERT_TRUE(wait_metric(
      port, "metricsd_head_samples", [](double v) { return v >= 0 && v < kSeries * kSamples / 10; },
      20s))
      << "compaction did not catch up; head holds " << scrape(port, "metricsd_head_samples");

  const std::string raw_tier = R"(metricsd_query_tier_total{tier="raw"})";
  const double raw0 = std::max(0.0, scrape(port, raw_tier));
  // Every request notes when it completed, in one order shared by all threads.
  std::atomic<int> seq{0};
  struct Read {
    int done = 0;
    int status = 0;
    std::string code;  // error code of a non-200
    size_t series = 0;
    std::string failure;
  };
  std::vector<Read> reads(kReads);
  std::vector<std::thread> readers;
  // 6 h at 2 s is 10800 points (the limit is 11000); `from` is not minute-aligned and the
  // step is not a multiple of a minute, so the raw tier is read.
  const std::string target = "/api/v1/query?metric=load.v&from=-6h&to=now&step=2s&agg=avg";
  for (int i = 0; i < kReads; ++i)
    readers.emplace_back([&, i] {
      try {
        auto r = http_request(port, "GET", target);
        reads[i].done = ++seq;
        reads[i].status = r.status;
        auto j = json::parse(r.body, nullptr, false);
        if (r.status == 200 && j.is_object())
          reads[i].series = j["series"].size();
        else if (j.is_object())
          reads[i].code = j["error"].value("code", "");
      } catch (const std::exception& e) {
        reads[i].done = ++seq;
        reads[i].failure = e.what();
      }
    });

  // Start writing only once the reads are queued behind the one read thread.
  const std::string waiting = R"(metricsd_storage_pool_waiting{pool="read"})";
  bool queued = wait_metric(
      port, waiting, [](double v) { return v >= kReads - 2; }, 20s);
  if (!queued) {
    for (auto& t : readers)
      t.join();
    FAIL() << "the reads never queued up (" << seq.load() << " already done): make them heavier";
  }

  int last_write = 0;
  for (int i = 0; i < kWrites; ++i) {
    auto r = http_request(port, "POST", "/api/v1/metrics",
                          json({{"node", "w1"}, {"metrics", {{"iso.x", i}}}}).dump(),
                          {{"Content-Type", "application/json"}});
    last_write = ++seq;
    EXPECT_TRUE(r.status >= 200 && r.status < 300)
        << "write " << i << ": " << r.status << " " << r.body;
    if (i % 4 == 3) {
      auto hb = http_request(port, "POST", "/api/v1/nodes/w1/heartbeat", "{}",
                             {{"Content-Type", "application/json"}});
      last_write = ++seq;
      EXPECT_TRUE(hb.status >= 200 && hb.status < 300)
          << "heartbeat " << i / 4 << ": " << hb.status << " " << hb.body;
    }
  }
  const int reads_done_by_then = seq.load() - (kWrites + kHeartbeats);
  for (auto& t : readers)
    t.join();

  // Every read is answered in full (query.timeout_ms is 60 s here): a read refused or cut
  // short would end early, and then finishing after the writes would prove nothing.
  int last_read = 0;
  for (const auto& r : reads) {
    last_read = std::max(last_read, r.done);
    EXPECT_TRUE(r.failure.empty()) << r.failure;
    EXPECT_EQ(r.status, 200) << r.code;
    EXPECT_EQ(r.series, static_cast<size_t>(kSeries));
  }
  EXPECT_LT(last_write, last_read)
      << "the writes finished after every read; reads done when the writes finished: "
      << reads_done_by_then << " of " << kReads;
  EXPECT_EQ(scrape(port, raw_tier), raw0 + kReads);
  RecordProperty("reads_done_when_writes_finished", reads_done_by_then);
}

}  // namespace
}  // namespace metricsd::test
