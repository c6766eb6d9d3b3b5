// The operational endpoints and the HTTP machinery, against one daemon with its own
// embedded PostgreSQL: readiness, version, error model, limits, keep-alive, pipelining.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include "harness.hpp"

namespace metricsd::test {
namespace {

using nlohmann::json;

class Ops : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    daemon_ = new Daemon(dir_->path(), {"--http-max-body-bytes", "4KiB", "--http-header-timeout-ms",
                                        "400ms", "--http-body-timeout-ms", "400ms"});
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete dir_;
  }
  int port() const { return daemon_->port(); }
  static TempDir* dir_;
  static Daemon* daemon_;
};
TempDir* Ops::dir_ = nullptr;
Daemon* Ops::daemon_ = nullptr;

void expect_error(const HttpResult& r, int status, const std::string& code) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  auto j = json::parse(r.body);
  EXPECT_EQ(j["error"]["code"], code) << r.body;
  EXPECT_TRUE(j["error"]["message"].is_string());
  EXPECT_FALSE(j["error"]["message"].get<std::string>().empty());
  EXPECT_TRUE(j["error"]["details"].is_array());
}

TEST_F(Ops, HealthzAndReadyz) {
  auto h = http_request(port(), "GET", "/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(json::parse(h.body)["status"], "ok");
  auto r = http_request(port(), "GET", "/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_GE(json::parse(r.body)["schema_version"].get<int>(), 1);
}

TEST_F(Ops, VersionNamesVersionBuildAndSchema) {
  auto r = http_request(port(), "GET", "/api/v1/version");
  ASSERT_EQ(r.status, 200);
  auto j = json::parse(r.body);
  EXPECT_EQ(j["version"], "0.1.0");
  EXPECT_TRUE(j["build"].is_string());
  EXPECT_GE(j["schema_version"].get<int>(), 1);
}

TEST_F(Ops, UnknownPathIs404Json) {
  expect_error(http_request(port(), "GET", "/api/v1/nope"), 404, "not_found");
}

TEST_F(Ops, WrongMethodIs405WithAllow) {
  auto r = http_request(port(), "POST", "/healthz", "{}");
  expect_error(r, 405, "method_not_allowed");
  EXPECT_EQ(r.header("allow"), "GET, HEAD");
}

TEST_F(Ops, OversizedBodyIs413) {
  expect_error(http_request(port(), "POST", "/healthz", std::string(5000, 'x')), 413,
               "payload_too_large");
}

TEST_F(Ops, OversizedChunkedBodyIs413) {
  std::string chunk(3000, 'y');
  char len[16];
  std::snprintf(len, sizeof len, "%zx", chunk.size());
  // Bodies are read only for a route that exists and a token that may use it.
  std::string req = "POST /api/v1/metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                    admin_token(port()) + "\r\nTransfer-Encoding: chunked\r\n\r\n";
  req += std::string(len) + "\r\n" + chunk + "\r\n" + std::string(len) + "\r\n" + chunk +
         "\r\n0\r\n\r\n";
  std::string out = raw_exchange(port(), req);
  EXPECT_NE(out.find("HTTP/1.1 413"), std::string::npos) << out.substr(0, 300);
  EXPECT_NE(out.find("payload_too_large"), std::string::npos);
}

TEST_F(Ops, MalformedRequestIs400AndClosed) {
  std::string out = raw_exchange(port(), "GARBAGE\r\n\r\n");
  EXPECT_NE(out.find("HTTP/1.1 400"), std::string::npos) << out;
  EXPECT_NE(out.find("invalid_argument"), std::string::npos);
}

TEST_F(Ops, OversizedHeadersAre431) {
  std::string req =
      "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n";
  std::string out = raw_exchange(port(), req);
  EXPECT_NE(out.find("HTTP/1.1 431"), std::string::npos) << out.substr(0, 200);
}

TEST_F(Ops, PipelinedRequestsAreAnsweredInOrder) {
  std::string req =
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /api/v1/version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  std::string out = raw_exchange(port(), req);
  auto a = out.find("HTTP/1.1 200");
  auto b = out.find("HTTP/1.1 404");
  auto c = out.find("\"schema_version\"", b == std::string::npos ? 0 : b);
  ASSERT_NE(a, std::string::npos) << out;
  ASSERT_NE(b, std::string::npos) << out;
  ASSERT_NE(c, std::string::npos) << out;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
}

// A client that stalls is cut off at the deadline (the socket is closed; no handler runs).
TEST_F(Ops, SlowHeadersAreCutOffAtTheHeaderTimeout) {
  auto t0 = std::chrono::steady_clock::now();
  std::string out =
      raw_exchange(port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n", std::chrono::seconds(5));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(out, "");
  EXPECT_GE(took, std::chrono::milliseconds(350));
  EXPECT_LT(took, std::chrono::seconds(3));
}

TEST_F(Ops, SlowBodyIsCutOffAtTheBodyTimeout) {
  auto t0 = std::chrono::steady_clock::now();
  std::string out =
      raw_exchange(port(),
                   "POST /api/v1/metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                       admin_token(port()) + "\r\nContent-Length: 100\r\n\r\n{\"a\":",
                   std::chrono::seconds(5));
  EXPECT_EQ(out, "");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
  // The timer closes the socket first; the session counts the timeout when its read
  // returns, so the client can see the close a moment before the counter moves.
  auto counted = [&](const std::string& kind) {
    return eventually(
        [&] {
          auto m = http_request(port(), "GET", "/metrics");
          return m.body.find("metricsd_http_read_errors_total{kind=\"" + kind + "\"}") !=
                 std::string::npos;
        },
        std::chrono::seconds(3));
  };
  EXPECT_TRUE(counted("body_timeout"));
  EXPECT_TRUE(counted("header_timeout"));
}

TEST_F(Ops, HeadAnswersWithoutBody) {
  std::string out =
      raw_exchange(port(), "HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(out.find("HTTP/1.1 200"), std::string::npos);
  EXPECT_EQ(out.find("\"status\""), std::string::npos) << out;
}

TEST_F(Ops, MetricsCountRequestsByRouteAndStatus) {
  http_request(port(), "GET", "/api/v1/nope");
  auto r = http_request(port(), "GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.header("content-type").find("text/plain"), std::string::npos);
  EXPECT_NE(r.body.find(
                "metricsd_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}"),
            std::string::npos)
      << r.body;
  EXPECT_NE(
      r.body.find("metricsd_http_request_duration_seconds_bucket{route=\"/healthz\",le=\"+Inf\"}"),
      std::string::npos);
  EXPECT_NE(r.body.find("metricsd_storage_pool_in_use{pool=\"main\"}"), std::string::npos);
  EXPECT_NE(r.body.find("metricsd_storage_pool_waiting{pool=\"main\"}"), std::string::npos);
  EXPECT_NE(r.body.find("metricsd_build_info{version=\"0.1.0\""), std::string::npos);
}

TEST_F(Ops, MetricsPassPromtoolCheck) {
  auto r = http_request(port(), "GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  std::string file = dir_->path().string() + "/scrape.txt";
  {
    std::ofstream f(file);
    f << r.body;
  }
  // promtool parses with Prometheus' own exposition parser; exit 3 = lint warnings only.
  std::string cmd = "promtool check metrics < " + file + " > " + file + ".out 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream out(file + ".out");
  std::string text((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << text;
}

// Every thread the daemon starts carries a name that says what it does (top -H, perf).
TEST_F(Ops, ThreadsAreNamedForWhatTheyDo) {
  std::map<std::string, int> names;
  const auto task = std::filesystem::path("/proc") / std::to_string(daemon_->pid()) / "task";
  for (const auto& t : std::filesystem::directory_iterator(task)) {
    std::ifstream in(t.path() / "comm");
    std::string name;
    std::getline(in, name);
    ++names[name];
  }
  std::string all;
  for (const auto& [n, c] : names)
    all += n + " x" + std::to_string(c) + "; ";
  for (const char* want :
       {"md-writer", "md-pg-main", "md-pg-read", "md-stream-hub", "md-auth-listen"})
    EXPECT_GE(names[want], 1) << want << " missing among " << all;
  // The io threads besides the main one (one per core by default).
  if (std::thread::hardware_concurrency() > 1) {
    EXPECT_GE(names["md-io"], 1) << all;
  }
  // Nothing else unnamed but the main thread.
  EXPECT_EQ(names["metricsd"], 1) << all;
}

TEST_F(Ops, FirstStartWritesAdminTokenFile) {
  auto path = dir_->path() / "admin.token";
  ASSERT_TRUE(std::filesystem::exists(path));
  auto perms = std::filesystem::status(path).permissions();
  EXPECT_EQ(perms & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  std::ifstream f(path);
  std::string token;
  f >> token;
  EXPECT_EQ(token.rfind("mtd_", 0), 0u);
  EXPECT_EQ(token.size(), 4u + 43u);
  EXPECT_EQ(daemon_->log().find(token), std::string::npos) << "the token must never be logged";
}

}  // namespace
}  // namespace metricsd::test
