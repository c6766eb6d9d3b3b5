// The Origin check of /ws/metrics upgrades: with http.cors_origins set, a browser page of
// any other origin is refused (403, before its token is looked at, counted by reason
// "origin"); an allowed origin, the server's own origin and a client that sends no Origin
// (wscat, scripts, the agent) are upgraded. Raw handshakes over loopback.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "harness.hpp"
#include "raw_http.hpp"

namespace metricsd::test {
namespace {

class WsOriginTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    daemon_ = new Daemon(
        dir_->path(), {"--http-cors-origins", "https://dash.example.com, http://grafana.lan:3000"});
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete dir_;
  }
  static int port() { return daemon_->port(); }

  // One upgrade handshake: its answer (101 when upgraded).
  static RawAnswer upgrade(const std::vector<std::pair<std::string, std::string>>& extra,
                           const std::string& host = "") {
    RawConnection c(port());
    std::string head =
        "GET /ws/metrics?access_token=" + admin_token(port()) +
        " HTTP/1.1\r\nHost: " + (host.empty() ? "127.0.0.1:" + std::to_string(port()) : host) +
        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n";
    for (const auto& [k, v] : extra)
      head += k + ": " + v + "\r\n";
    EXPECT_TRUE(c.send(head + "\r\n"));
    auto a = c.read_answer();
    EXPECT_TRUE(a.has_value());
    return a.value_or(RawAnswer{});
  }
  static double refused_by_origin() {
    return metric_value(port(), "metricsd_stream_refused_total{reason=\"origin\"}", 0);
  }

  static TempDir* dir_;
  static Daemon* daemon_;
};
TempDir* WsOriginTest::dir_ = nullptr;
Daemon* WsOriginTest::daemon_ = nullptr;

TEST_F(WsOriginTest, ForeignBrowserOriginsAreRefusedAndCounted) {
  double before = refused_by_origin();
  int refused = 0;
  for (std::string origin : {"https://evil.example", "http://dash.example.com",  // wrong scheme
                             "https://dash.example.com.evil.example", "null",
                             "https://DASH.example.com:443", "http://grafana.lan"}) {
    auto a = upgrade({{"Origin", origin}});
    EXPECT_EQ(a.status, 403) << origin << ": " << a.body;
    EXPECT_NE(a.body.find("permission_denied"), std::string::npos) << a.body;
    EXPECT_NE(a.body.find("http.cors_origins"), std::string::npos) << a.body;
    ++refused;
  }
  // A bad token from a foreign origin is refused for its origin, not its token.
  RawConnection c(port());
  ASSERT_TRUE(
      c.send("GET /ws/metrics?access_token=wrong HTTP/1.1\r\nHost: x\r\n"
             "Upgrade: websocket\r\nConnection: Upgrade\r\nOrigin: https://evil.example\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));
  auto a = c.read_answer();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, 403) << a->body;
  ++refused;
  EXPECT_EQ(refused_by_origin(), before + refused);
  // Logged, but not once per refusal.
  auto log = daemon_->log();
  size_t lines = 0;
  for (size_t at = log.find("which http.cors_origins does not allow"); at != std::string::npos;
       at = log.find("which http.cors_origins does not allow", at + 1))
    ++lines;
  EXPECT_GE(lines, 1u) << log;
  EXPECT_LT(lines, static_cast<size_t>(refused)) << log;
}

TEST_F(WsOriginTest, AllowedOriginsOwnOriginAndNoOriginAreUpgraded) {
  double before = refused_by_origin();
  EXPECT_EQ(upgrade({{"Origin", "https://dash.example.com"}}).status, 101);
  EXPECT_EQ(upgrade({{"Origin", "http://grafana.lan:3000"}}).status, 101);
  EXPECT_EQ(upgrade({}).status, 101);  // wscat, scripts: no Origin header
  // The server's own pages (the status page at /) open the stream from its own origin.
  std::string own = "127.0.0.1:" + std::to_string(port());
  EXPECT_EQ(upgrade({{"Origin", "http://" + own}}).status, 101);
  EXPECT_EQ(upgrade({{"Origin", "http://metrics.lan:8080"}}, "metrics.lan:8080").status, 101);
  EXPECT_EQ(upgrade({{"Origin", "http://metrics.lan:8081"}}, "metrics.lan:8080").status, 403);
  EXPECT_EQ(refused_by_origin(), before + 1);
}

TEST(WsOriginUnset, AnyOriginIsUpgradedWithoutCorsOrigins) {
  TempDir dir;
  Daemon d(dir.path());
  ASSERT_TRUE(d.wait_ready()) << d.log();
  RawConnection c(d.port());
  ASSERT_TRUE(
      c.send("GET /ws/metrics?access_token=" + admin_token(d.port()) +
             " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Origin: https://anywhere.example\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));
  auto a = c.read_answer();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, 101) << a->body;
}

}  // namespace
}  // namespace metricsd::test
