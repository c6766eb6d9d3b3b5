// The daemon's lifecycle with its embedded PostgreSQL: bad settings, a second instance on
// the same data dir, SIGTERM, kill -9 and restart, a leftover PostgreSQL, JSON logs.
#include <signal.h>

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "harness.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string first_line(const std::string& s) {
  return s.substr(0, s.find('\n'));
}

// Whether `sig` is pending for the process (SigPnd or ShdPnd of /proc/<pid>/status).
bool signal_pending(pid_t pid, int sig) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("SigPnd:", 0) == 0 || line.rfind("ShdPnd:", 0) == 0)
      if (std::stoull(line.substr(7), nullptr, 16) & (1ULL << (sig - 1))) return true;
  return false;
}

struct BadSetting {
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::string expect;  // in the one line printed
};

TEST(Lifecycle, BadSettingsExitWithCode2AndOneLineNamingTheSetting) {
  TempDir dir;
  std::string bad_json = (dir.path() / "bad.json").string();
  std::ofstream(bad_json) << R"({"http": {"max_body_bytes": "lots"}})";
  std::string unknown_json = (dir.path() / "unknown.json").string();
  std::ofstream(unknown_json) << R"({"http": {"max_bodybytes": 10}})";
  std::string broken_json = (dir.path() / "broken.json").string();
  std::ofstream(broken_json) << R"({"listen": )";
  std::vector<BadSetting> cases = {
      {{"--http-max-body-bytes", "lots"}, {}, "http.max_body_bytes"},
      {{"--threads", "-1"}, {}, "threads"},
      {{"--listen", "8080"}, {}, "listen"},
      {{"--log-level", "loud"}, {}, "log.level"},
      {{"--no-such-flag", "1"}, {}, "--no-such-flag"},
      {{"--config", bad_json}, {}, "http.max_body_bytes"},
      {{"--config", unknown_json}, {}, "http.max_bodybytes"},
      {{"--config", broken_json}, {}, "not valid JSON"},
      {{"--config", "/nonexistent/metricsd.json"}, {}, "cannot read"},
      {{}, {{"METRICSD_RETENTION_RAW", "7 days"}}, "retention.raw"},
      {{}, {{"METRICSD_NO_SUCH", "1"}}, "METRICSD_NO_SUCH"},
      {{"frobnicate"}, {}, "unknown command"},
  };
  for (const auto& c : cases) {
    std::string out;
    std::vector<std::string> args = {"--data-dir", (dir.path() / "d").string()};
    args.insert(args.end(), c.args.begin(), c.args.end());
    int rc = Daemon::run(args, &out, c.env);
    EXPECT_EQ(rc, 2) << out;
    EXPECT_NE(first_line(out).find(c.expect), std::string::npos) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  }
  EXPECT_FALSE(fs::exists(dir.path() / "d")) << "nothing may be created before settings are valid";
}

TEST(Lifecycle, HelpAndVersion) {
  std::string out;
  EXPECT_EQ(Daemon::run({"--version"}, &out), 0);
  EXPECT_NE(out.find("metricsd 0.1.0"), std::string::npos);
  EXPECT_EQ(Daemon::run({"--help"}, &out), 0);
  EXPECT_NE(out.find("--database-url"), std::string::npos);
  EXPECT_NE(out.find("METRICSD_HTTP_MAX_BODY_BYTES"), std::string::npos);
}

TEST(Lifecycle, SecondInstanceOnSameDataDirIsRefused) {
  TempDir dir;
  Daemon first(dir.path());
  ASSERT_TRUE(first.wait_ready()) << first.log();
  Daemon second(dir.path());
  auto rc = second.wait_exit(30s);
  ASSERT_TRUE(rc.has_value()) << second.log();
  EXPECT_NE(*rc, 0);
  EXPECT_NE(second.log().find("in use by another metricsd (pid " + std::to_string(first.pid())),
            std::string::npos)
      << second.log();
  EXPECT_EQ(http_request(first.port(), "GET", "/readyz").status, 200);
}

TEST(Lifecycle, SigtermDrainsStopsPostgresAndExitsZero) {
  TempDir dir;
  Daemon d(dir.path());
  ASSERT_TRUE(d.wait_ready()) << d.log();
  pid_t pg = embedded_postgres_pid(dir.path());
  ASSERT_TRUE(process_alive(pg));
  // An idle keep-alive connection must not hold the shutdown.
  std::thread idle(
      [&] { raw_exchange(d.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 20s); });
  // Until the server has answered it and holds it open (the scrape counts itself too).
  EXPECT_TRUE(eventually([&] {
    return metric_value(
               d.port(),
               R"(metricsd_http_requests_total{method="GET",route="/healthz",status="200"})",
               0) >= 1 &&
           metric_value(d.port(), "metricsd_http_connections", 0) >= 2;
  }));
  auto t0 = std::chrono::steady_clock::now();
  d.signal(SIGTERM);
  auto rc = d.wait_exit(10s);
  idle.join();
  ASSERT_TRUE(rc.has_value()) << "no exit within 10 s\n" << d.log();
  EXPECT_EQ(*rc, 0) << d.log();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_FALSE(process_alive(pg)) << "embedded PostgreSQL outlived the daemon";
  EXPECT_NE(d.log().find("metricsd stopped"), std::string::npos);
}

TEST(Lifecycle, RestartAfterKill9RecoversAndKeepsTheAdminToken) {
  TempDir dir;
  std::string token_before;
  {
    Daemon d(dir.path());
    ASSERT_TRUE(d.wait_ready()) << d.log();
    std::ifstream(dir.path() / "admin.token") >> token_before;
    pid_t pg = embedded_postgres_pid(dir.path());
    d.signal(SIGKILL);
    ASSERT_TRUE(d.wait_exit(5s).has_value());
    // The parent-death signal takes PostgreSQL down with the daemon.
    for (int i = 0; i < 100 && process_alive(pg); ++i)
      std::this_thread::sleep_for(50ms);
    EXPECT_FALSE(process_alive(pg)) << "embedded PostgreSQL survived kill -9 of the daemon";
  }
  Daemon again(dir.path());
  ASSERT_TRUE(again.wait_ready()) << again.log();
  std::string token_after;
  std::ifstream(dir.path() / "admin.token") >> token_after;
  EXPECT_EQ(token_before, token_after);
  EXPECT_EQ(again.log().find("created the first admin token"), std::string::npos);
}

TEST(Lifecycle, LeftoverPostgresFromACrashIsStoppedAndReplaced) {
  TempDir dir;
  pid_t pg = 0;
  {
    Daemon d(dir.path());
    ASSERT_TRUE(d.wait_ready()) << d.log();
    pg = embedded_postgres_pid(dir.path());
    // A stopped server cannot act on the parent-death signal: it outlives the daemon.
    ASSERT_EQ(kill(pg, SIGSTOP), 0);
    d.signal(SIGKILL);
    ASSERT_TRUE(d.wait_exit(5s).has_value());
  }
  // The daemon is reaped, so its parent-death SIGQUIT was sent; the stopped server holds it
  // pending and lives on.
  EXPECT_TRUE(eventually([&] { return signal_pending(pg, SIGQUIT); }, 5s));
  ASSERT_TRUE(process_alive(pg));
  Daemon again(dir.path());
  bool ready = again.wait_ready(60s);
  if (!ready) kill(pg, SIGKILL);
  ASSERT_TRUE(ready) << again.log();
  EXPECT_NE(again.log().find("left over from an earlier run"), std::string::npos) << again.log();
  EXPECT_NE(embedded_postgres_pid(dir.path()), pg);
}

// The other tests' daemons start on a copy of the harness's template cluster; this one
// runs initdb itself, as on a real first start, and the template holds what it made.
TEST(Lifecycle, FirstStartCreatesTheClusterAndTheTestTemplateMatchesIt) {
  TempDir dir;
  Daemon d(dir.path(), {}, {}, Cluster::fresh_initdb);
  ASSERT_TRUE(d.wait_ready()) << d.log();
  EXPECT_NE(d.log().find("creating a new cluster"), std::string::npos) << d.log();
  auto slurp = [](const fs::path& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  const fs::path made = dir.path() / "postgres", copied = cluster_template() / "postgres";
  for (const char* file :
       {"PG_VERSION", "pg_hba.conf", "pg_ident.conf", "postgresql.conf", "postgresql.auto.conf"}) {
    ASSERT_TRUE(fs::exists(made / file)) << file;
    EXPECT_EQ(slurp(copied / file), slurp(made / file)) << file;
  }
  EXPECT_EQ(fs::status(copied).permissions(), fs::status(made).permissions());
}

TEST(Lifecycle, JsonLogFormatWritesOneObjectPerLine) {
  TempDir dir;
  Daemon d(dir.path(), {"--log-format", "json"});
  // The harness looks for the text "listening on http://..." inside the JSON message.
  ASSERT_TRUE(d.wait_ready()) << d.log();
  http_request(d.port(), "GET", "/healthz");
  d.signal(SIGTERM);
  ASSERT_EQ(d.wait_exit(10s), 0);
  std::istringstream lines(d.log());
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    EXPECT_TRUE(j.contains("time") && j.contains("level") && j.contains("msg")) << line;
    ++n;
  }
  EXPECT_GT(n, 3);
}

}  // namespace
}  // namespace metricsd::test
