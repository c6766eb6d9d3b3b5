// Abuse limits against the real daemon: per-token request and sample rate limits (429 +
// Retry-After, nothing of a refused write stored), the per-address limit on requests
// without a valid token, connections per address, request target length and header
// count, CORS for other origins and the security headers; auth.mode=disabled only on
// loopback.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "harness.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace asio = boost::asio;

class Limits : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    daemon_ = new Daemon(
        dir_->path(), {"--rate-limit-per-token-rps", "5", "--rate-limit-burst", "5",
                       "--rate-limit-per-token-samples-per-s", "10", "--rate-limit-per-addr-rps",
                       "2", "--http-max-connections-per-addr", "3", "--http-max-url-bytes", "512",
                       "--http-max-header-count", "20", "--http-cors-origins",
                       "https://dash.example.com, http://localhost:3000"});
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete dir_;
  }
  static int port() { return daemon_->port(); }
  // A fresh token of its own, so each test starts with a full bucket.
  static std::string token(const std::string& role) {
    static int n = 0;
    auto r = http_request(port(), "POST", "/api/v1/tokens",
                          json{{"name", "limits-" + std::to_string(++n)}, {"role", role}}.dump(),
                          {{"Content-Type", "application/json"}});
    EXPECT_EQ(r.status, 201) << r.body;
    return json::parse(r.body, nullptr, false).value("token", "");
  }
  static HttpResult with(const std::string& t, const std::string& method, const std::string& target,
                         const std::string& body = "") {
    return http_request(port(), method, target, body,
                        {{"Authorization", "Bearer " + t}, {"Content-Type", "application/json"}});
  }

  static TempDir* dir_;
  static Daemon* daemon_;
};
TempDir* Limits::dir_ = nullptr;
Daemon* Limits::daemon_ = nullptr;

TEST_F(Limits, ATokenOverItsRequestRateGets429WithRetryAfter) {
  std::string t = token("viewer");
  int ok = 0, limited = 0;
  HttpResult last;
  for (int i = 0; i < 12; ++i) {
    auto r = with(t, "GET", "/api/v1/nodes");
    if (r.status == 200) ++ok;
    if (r.status == 429) {
      ++limited;
      last = r;
    }
  }
  EXPECT_GE(ok, 5);
  EXPECT_LE(ok, 7);  // the burst, plus what refilled meanwhile
  ASSERT_GE(limited, 5);
  EXPECT_GE(std::stoi(last.header("retry-after")), 1);
  EXPECT_NE(last.body.find("rate_limited"), std::string::npos);
  EXPECT_NE(last.body.find("rate_limit.per_token_rps"), std::string::npos) << last.body;
  // Another token is not affected.
  EXPECT_EQ(with(token("viewer"), "GET", "/api/v1/nodes").status, 200);
  EXPECT_GE(metric_value(port(), "metricsd_rate_limited_total{limit=\"token_requests\"}", 0), 5);
}

TEST_F(Limits, SamplesAreLimitedPerTokenAndARefusedWriteStoresNothing) {
  std::string t = token("agent");
  auto batch = [](const std::string& node, int n) {
    json samples = json::array();
    for (int i = 0; i < n; ++i)
      samples.push_back({{"metric", "lim.x"}, {"value", i}});
    return json{{"node", node}, {"samples", samples}}.dump();
  };
  auto first = with(t, "POST", "/api/v1/metrics", batch("lim-a", 8));
  EXPECT_EQ(first.status, 200) << first.body;
  auto second = with(t, "POST", "/api/v1/metrics", batch("lim-b", 8));
  EXPECT_EQ(second.status, 429) << second.body;
  EXPECT_NE(second.body.find("per_token_samples_per_s"), std::string::npos);
  EXPECT_NE(second.header("retry-after"), "");
  auto latest = http_request(port(), "GET", "/api/v1/latest?node=lim-b");
  EXPECT_EQ(latest.status, 200);
  EXPECT_EQ(json::parse(latest.body).size(), 0u) << "nothing of the refused write: " << latest.body;
  // The refill is the event here, and it is time: at the suite's 10 samples/s, the 8
  // samples the refused write did not take are back after 0.8 s.
  constexpr auto kRefill = 8 * 1000ms / 10;
  std::this_thread::sleep_for(kRefill + 300ms);
  EXPECT_EQ(with(t, "POST", "/api/v1/metrics", batch("lim-b", 8)).status, 200);
}

TEST_F(Limits, GuessingTokensFromOneAddressIsSlowedDown) {
  int unauthorized = 0, limited = 0;
  for (int i = 0; i < 10; ++i) {
    auto r = with("mtd_guess" + std::to_string(i), "GET", "/api/v1/nodes");
    unauthorized += r.status == 401;
    limited += r.status == 429;
  }
  // Each unknown token costs the address one unit of its bucket (burst 4 at 2/s); once it
  // is empty, guesses are refused before the database is asked.
  EXPECT_EQ(unauthorized + limited, 10);
  EXPECT_LE(unauthorized, 5);
  EXPECT_GE(limited, 5);
  EXPECT_GE(metric_value(port(), "metricsd_rate_limited_total{limit=\"address\"}", 0), 5);
}

TEST_F(Limits, ConnectionsPerAddressAreBounded) {
  asio::io_context ioc;
  // The open-connection gauge, read from another loopback address (127.0.0.1 will be at
  // its limit); it counts the scrape's own connection too.
  auto open_connections = [&]() -> double {
    asio::ip::tcp::socket s(ioc);
    boost::system::error_code e;
    s.open(asio::ip::tcp::v4(), e);
    s.bind({asio::ip::make_address("127.0.0.2"), 0}, e);
    s.connect({asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port())}, e);
    if (e) return -1;
    asio::write(s,
                asio::buffer(std::string("GET /metrics HTTP/1.1\r\nHost: l\r\n"
                                         "Connection: close\r\n\r\n")),
                e);
    std::string text;
    asio::read(s, asio::dynamic_buffer(text), e);
    const std::string key = "\nmetricsd_http_connections ";
    auto at = text.find(key);
    return at == std::string::npos ? -1 : std::stod(text.substr(at + key.size()));
  };
  // Earlier tests' connections (refused requests linger a while) must be gone first, or
  // they would fill the limit now and free it later.
  double quiet = -1;
  for (int i = 0; i < 200 && quiet != 1; ++i) {
    quiet = open_connections();
    if (quiet != 1) std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(quiet, 1) << "other connections stayed open";
  std::vector<asio::ip::tcp::socket> held;
  for (int i = 0; i < 3; ++i) {
    held.emplace_back(ioc);
    held.back().connect({asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port())});
  }
  // Until the server has accepted them (a busy machine is slow).
  double open = 0;
  for (int i = 0; i < 200 && open < 4; ++i) {
    open = open_connections();
    if (open < 4) std::this_thread::sleep_for(100ms);
  }
  ASSERT_GE(open, 4) << "the server did not accept the held connections";
  asio::ip::tcp::socket extra(ioc);
  extra.connect({asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port())});
  std::string out(512, '\0');
  boost::system::error_code ec;
  size_t n = asio::read(extra, asio::buffer(out), ec);
  out.resize(n);
  EXPECT_NE(out.find("503"), std::string::npos)
      << out << " (" << ec.message() << "; open connections before it: " << open << ")";
  EXPECT_NE(out.find("too many connections"), std::string::npos);
  held.clear();
  extra.close();
  // Until the server has seen them close.
  EXPECT_TRUE(eventually([&] { return open_connections() == 1; }));
  EXPECT_EQ(http_request(port(), "GET", "/healthz").status, 200);
  EXPECT_GE(metric_value(port(), "metricsd_http_connections_refused_total{limit=\"per_addr\"}", 0),
            1);
}

TEST_F(Limits, LongTargetsAndTooManyHeadersAreRefused) {
  auto long_target = http_request(port(), "GET", "/api/v1/nodes?x=" + std::string(600, 'a'));
  EXPECT_EQ(long_target.status, 414) << long_target.body;
  EXPECT_NE(long_target.body.find("http.max_url_bytes"), std::string::npos);
  std::vector<std::pair<std::string, std::string>> headers;
  for (int i = 0; i < 25; ++i)
    headers.emplace_back("X-H" + std::to_string(i), "v");
  auto many = http_request(port(), "GET", "/healthz", "", headers);
  EXPECT_EQ(many.status, 431) << many.body;
  EXPECT_NE(many.body.find("http.max_header_count"), std::string::npos);
}

TEST_F(Limits, CorsAnswersAllowedOriginsOnlyAndEveryAnswerHasSecurityHeaders) {
  auto pre = http_request(port(), "OPTIONS", "/api/v1/nodes", "",
                          {{"Origin", "https://dash.example.com"},
                           {"Access-Control-Request-Method", "GET"},
                           {"Access-Control-Request-Headers", "authorization"},
                           {"Authorization", ""}});
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(pre.header("access-control-allow-origin"), "https://dash.example.com");
  EXPECT_NE(pre.header("access-control-allow-headers").find("Authorization"), std::string::npos);
  EXPECT_NE(pre.header("access-control-allow-methods").find("GET"), std::string::npos);

  auto other = http_request(port(), "OPTIONS", "/api/v1/nodes", "",
                            {{"Origin", "https://evil.example.net"},
                             {"Access-Control-Request-Method", "GET"},
                             {"Authorization", ""}});
  EXPECT_EQ(other.header("access-control-allow-origin"), "");

  auto get =
      http_request(port(), "GET", "/api/v1/nodes", "", {{"Origin", "http://localhost:3000"}});
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.header("access-control-allow-origin"), "http://localhost:3000");
  EXPECT_EQ(get.header("vary"), "Origin");
  auto plain =
      http_request(port(), "GET", "/api/v1/nodes", "", {{"Origin", "https://evil.example.net"}});
  EXPECT_EQ(plain.header("access-control-allow-origin"), "");
  for (const auto* r : {&get, &plain}) {
    EXPECT_EQ(r->header("x-content-type-options"), "nosniff");
    EXPECT_EQ(r->header("x-frame-options"), "DENY");
    EXPECT_EQ(r->header("cache-control"), "no-store");
    EXPECT_NE(r->header("content-security-policy"), "");
  }
}

TEST(AuthMode, DisabledIsRefusedUnlessListeningOnLoopback) {
  std::string out;
  EXPECT_EQ(Daemon::run({"serve", "--auth-mode", "disabled", "--listen", "0.0.0.0:0"}, &out), 2);
  EXPECT_NE(out.find("auth.mode"), std::string::npos) << out;
  EXPECT_NE(out.find("loopback"), std::string::npos) << out;

  TempDir dir;
  Daemon d(dir.path(), {"--auth-mode", "disabled"});
  ASSERT_TRUE(d.wait_ready()) << d.log();
  auto r = http_request(d.port(), "GET", "/api/v1/tokens", "", {{"Authorization", ""}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(d.log().find("auth.mode=disabled"), std::string::npos);
}

TEST(AuthMode, BadCorsOriginsStopStartUp) {
  std::string out;
  EXPECT_EQ(Daemon::run({"serve", "--http-cors-origins", "dash.example.com"}, &out), 2);
  EXPECT_NE(out.find("http.cors_origins"), std::string::npos) << out;
}

}  // namespace
}  // namespace metricsd::test
