// A client that never reads, under ingest at ~100 k samples/s, with a tiny
// stream.max_client_queue: ingest keeps answering promptly, another client keeps
// receiving promptly without losing anything, and the stalled one is shed, then closed.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "stream_support.hpp"

namespace metricsd::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class StreamSlowClientTest : public StreamBase {
 protected:
  static void SetUpTestSuite() {
    start({"--stream-max-client-queue", "8", "--stream-max-lag-ms", "2s", "--stream-flush-ms",
           "50ms"});
  }
  static void TearDownTestSuite() { stop(); }
};

TEST_F(StreamSlowClientTest, StalledClientIsShedAndClosedWhileOthersKeepUp) {
  WsClient stalled(port(), {.read = false, .receive_buffer = 4096});
  ASSERT_TRUE(
      stalled.send_json(json{{"op", "subscribe"}, {"id", 1}, {"channels", {"metrics:slow"}}}));
  WsClient good(port());
  subscribe(good, {{"op", "subscribe"}, {"id", 1}, {"channels", {"metrics:slow"}}});

  // 2000 samples a POST with long labels, back to back for 6 s.
  json samples = json::array();
  for (int i = 0; i < 2000; ++i)
    samples.push_back({{"metric", "slow.m" + std::to_string(i % 20)},
                       {"value", i},
                       {"labels", {{"pad", std::string(40, 'p') + std::to_string(i / 20)}}}});
  json body = {{"node", "slow-1"}, {"samples", samples}};
  std::string text = body.dump();
  auto until = std::chrono::steady_clock::now() + 6s;
  int posts = 0;
  std::chrono::steady_clock::duration slowest{};
  while (std::chrono::steady_clock::now() < until) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = http_request(port(), "POST", "/api/v1/metrics", text,
                          {{"Content-Type", "application/json"}});
    ASSERT_EQ(r.status, 200) << r.body;
    slowest = std::max(slowest, std::chrono::steady_clock::now() - t0);
    ++posts;
  }
  EXPECT_LT(slowest, 1s) << "ingest slowed down";
  // The good client got every sample, promptly, and was never shed.
  size_t got = 0;
  int64_t worst_lag_ms = 0;
  while (got < static_cast<size_t>(posts) * 2000) {
    auto m = good.next(5s);
    ASSERT_TRUE(m) << "good client stopped receiving after " << got << " samples";
    ASSERT_NE((*m)["type"], "dropped") << m->dump();
    if ((*m)["type"] != "metrics") continue;
    got += (*m)["samples"].size();
    worst_lag_ms =
        std::max(worst_lag_ms, good.last_receipt_ms() - (*m)["committed_ms"].get<int64_t>());
  }
  EXPECT_EQ(got, static_cast<size_t>(posts) * 2000);
  // Generous on a shared 2-core machine; the point is that it is not the stalled one's lag.
  EXPECT_LT(worst_lag_ms, 2000);
  std::cerr << posts << " posts, slowest " << std::chrono::duration<double>(slowest).count()
            << " s; good client's worst lag " << worst_lag_ms << " ms\n";

  EXPECT_GT(wait_metric("metricsd_stream_dropped_samples_total", 1), 0);
  EXPECT_GE(wait_metric("metricsd_stream_closes_total{reason=\"too_slow\"}", 1, 15s), 1);
  // Reading at last, the stalled client finds what was buffered, then the end.
  stalled.start_reading();
  EXPECT_TRUE(stalled.wait_closed(10s));
  EXPECT_EQ(metric_value(port(), "metricsd_stream_clients", -1), 1);
}

}  // namespace
}  // namespace metricsd::test
