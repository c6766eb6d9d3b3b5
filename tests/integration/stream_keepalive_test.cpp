// Keepalive: the server pings idle stream clients; one that answers (any WebSocket client
// does, automatically) stays, one that never reads (so never answers) is closed.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "stream_support.hpp"

namespace metricsd::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class StreamKeepaliveTest : public StreamBase {
 protected:
  static void SetUpTestSuite() { start({"--stream-ping-interval-ms", "200ms"}); }
  static void TearDownTestSuite() { stop(); }
};

TEST_F(StreamKeepaliveTest, IdleClientsArePingedAndSilentOnesClosed) {
  WsClient alive(port());
  WsClient silent(port(), {.read = false});
  subscribe(alive, {{"op", "subscribe"}, {"id", 1}, {"channels", {"metrics:keep"}}});
  // The silent client is closed once it has left pings unanswered; the answering one has
  // been idle as long, through the same pings.
  EXPECT_GE(wait_metric("metricsd_stream_closes_total{reason=\"timeout\"}", 1, 5s), 1);
  ASSERT_TRUE(alive.send_json(json{{"op", "ping"}, {"id", 2}}));
  auto pong = alive.next();
  ASSERT_TRUE(pong) << "the answering client was closed";
  EXPECT_EQ((*pong)["type"], "pong");
  silent.start_reading();
  EXPECT_TRUE(silent.wait_closed(5s));
}

}  // namespace
}  // namespace metricsd::test
