// The daemon against a PostgreSQL server it does not own (database.url): unreachable at
// start, lost and back while running, two daemons migrating one database at once, and
// `metricsd migrate`. The server is a throwaway cluster on a loopback port, started once.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <boost/asio/ip/tcp.hpp>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <thread>

#include "core/clock.hpp"
#include "harness.hpp"
#include "storage/embedded_postgres.hpp"
#include "storage/migrations.hpp"
#include "webhook_receiver.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

int free_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

class ExternalDb : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    port_ = free_port();
    storage::EmbeddedPostgres::Options o;
    o.data_dir = dir_->path() / "cluster";
    o.tcp_port = port_;
    o.settings = {"fsync=off"};  // a throwaway server; durability is not under test here
    pg_ = new storage::EmbeddedPostgres(o);
  }
  static void TearDownTestSuite() {
    delete pg_;
    delete dir_;
  }
  static void ensure_running() {
    if (!pg_->running()) pg_->start();
  }
  static std::string url(const std::string& db = "metricsd") {
    return fmt::format("postgresql://postgres@127.0.0.1:{}/{}", port_, db);
  }
  static void create_db(const std::string& name) {
    pqxx::connection c(pg_->conninfo("postgres"));
    pqxx::nontransaction tx(c);
    tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name));
    tx.exec("CREATE DATABASE " + tx.quote_name(name));
  }
  static int readyz(const Daemon& d, HttpResult* out = nullptr) {
    try {
      auto r = http_request(d.port(), "GET", "/readyz");
      if (out) *out = r;
      return r.status;
    } catch (const std::exception&) {
      return 0;
    }
  }
  static bool wait_status(const Daemon& d, int status, std::chrono::seconds timeout,
                          HttpResult* out = nullptr) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (readyz(d, out) == status) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
  static TempDir* dir_;
  static int port_;
  static storage::EmbeddedPostgres* pg_;
};
TempDir* ExternalDb::dir_ = nullptr;
int ExternalDb::port_ = 0;
storage::EmbeddedPostgres* ExternalDb::pg_ = nullptr;

TEST_F(ExternalDb, UnreachableAtStartIsNotReadyThenComesUpByItself) {
  if (pg_->running()) pg_->stop();
  TempDir data;
  Daemon d(data.path(), {"--database-url", url()});
  ASSERT_TRUE(d.wait_listening()) << d.log();
  EXPECT_EQ(http_request(d.port(), "GET", "/healthz").status, 200);
  // "starting" until the first connection attempt has failed; then the reason names the
  // database.
  HttpResult r;
  ASSERT_TRUE(eventually(
      [&] { return readyz(d, &r) == 503 && r.body.find("database") != std::string::npos; }, 10s))
      << r.body << d.log();
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["error"]["code"], "unavailable");
  EXPECT_NE(j["error"]["message"].get<std::string>().find("database"), std::string::npos) << r.body;
  EXPECT_FALSE(r.header("retry-after").empty());
  EXPECT_TRUE(
      eventually([&] { return d.log().find("database not ready") != std::string::npos; }, 3s))
      << d.log();
  ensure_running();
  EXPECT_TRUE(wait_status(d, 200, 30s)) << d.log();
}

TEST_F(ExternalDb, LostWhileRunningAnswers503ThenReconnects) {
  ensure_running();
  TempDir data;
  Daemon d(data.path(), {"--database-url", url()});
  ASSERT_TRUE(d.wait_ready()) << d.log();
  pg_->stop();
  HttpResult r;
  ASSERT_TRUE(wait_status(d, 503, 15s, &r)) << d.log();
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"]["code"], "unavailable");
  EXPECT_FALSE(r.header("retry-after").empty());
  EXPECT_EQ(http_request(d.port(), "GET", "/healthz").status, 200);
  pg_->start();
  EXPECT_TRUE(wait_status(d, 200, 30s)) << d.log();
  auto m = http_request(d.port(), "GET", "/metrics");
  EXPECT_NE(m.body.find("metricsd_storage_errors_total{pool=\"main\",kind="), std::string::npos);
}

TEST_F(ExternalDb, TwoDaemonsStartingTogetherBothComeUpAndMigrateOnce) {
  ensure_running();
  create_db("twin");
  TempDir a, b;
  Daemon da(a.path(), {"--database-url", url("twin")});
  Daemon db(b.path(), {"--database-url", url("twin")});
  ASSERT_TRUE(da.wait_ready()) << da.log();
  ASSERT_TRUE(db.wait_ready()) << db.log();
  pqxx::connection c(pg_->conninfo("twin"));
  pqxx::nontransaction tx(c);
  EXPECT_EQ(tx.exec("SELECT count(*) FROM schema_migrations")[0][0].as<size_t>(),
            storage::embedded_migrations().size());
  EXPECT_EQ(tx.exec("SELECT count(*) FROM tokens")[0][0].as<int>(), 1);
  EXPECT_NE(fs::exists(a.path() / "admin.token"), fs::exists(b.path() / "admin.token"));
}

// Two daemons on one database: one evaluates the alerts and notifies; when it dies (kill
// -9: its connection and advisory lock go) the other takes over within seconds, resumes the
// firing alert without notifying it again, and notifies its resolve.
TEST_F(ExternalDb, OneDaemonEvaluatesAlertsAndAnotherTakesOverWhenItDies) {
  ensure_running();
  create_db("alerting");
  WebhookReceiver rx;
  TempDir a, b;
  auto da = std::make_unique<Daemon>(
      a.path(),
      std::vector<std::string>{"--database-url", url("alerting"), "--auth-mode", "disabled"});
  auto db = std::make_unique<Daemon>(
      b.path(),
      std::vector<std::string>{"--database-url", url("alerting"), "--auth-mode", "disabled"});
  ASSERT_TRUE(da->wait_ready()) << da->log();
  ASSERT_TRUE(db->wait_ready()) << db->log();
  auto evaluator = [](const Daemon& d) {
    return metric_value(d.port(), "metricsd_alert_evaluator", -1);
  };
  ASSERT_TRUE(eventually([&] { return evaluator(*da) + evaluator(*db) == 1; }));
  Daemon* leader = evaluator(*da) == 1 ? da.get() : db.get();
  Daemon* follower = leader == da.get() ? db.get() : da.get();
  auto post = [](const Daemon& d, const std::string& target, const std::string& body) {
    return http_request(d.port(), "POST", target, body, {{"Content-Type", "application/json"}});
  };
  ASSERT_EQ(post(*follower, "/api/v1/alerts/receivers",
                 R"({"name":"rx","kind":"webhook","url":")" + rx.url("/h") + R"("})")
                .status,
            201);
  ASSERT_EQ(post(*follower, "/api/v1/alerts/rules",
                 R"({"name":"hot","kind":"threshold","metric":"gpu.temp_c","levels":{"critical":80},
                     "clear":60})")
                .status,
            201);
  // The leader picks the rule up within its reload interval (10 s) when it was made on the
  // other daemon; samples written to it from then on are evaluated.
  std::string line;
  ASSERT_TRUE(eventually(
      [&] {
        line = fmt::format("gpu,node=t-1 temp_c=90 {}\n", wall_ms());
        http_request(leader->port(), "POST", "/api/v1/write?precision=ms", line);
        return rx.wait_for(1, 500ms);
      },
      20s));
  // Killed once the delivery is recorded (one killed between delivering and recording is
  // delivered again by the next evaluator: receivers deduplicate by X-Metricsd-Delivery).
  ASSERT_TRUE(eventually([&] {
    auto h = http_request(leader->port(), "GET", "/api/v1/alerts/history?node=t-1").body;
    return h.find("\"state\":\"sent\"") != std::string::npos;
  }));
  leader->signal(SIGKILL);
  ASSERT_TRUE(eventually([&] { return evaluator(*follower) == 1; }, 30s)) << follower->log();
  auto r = http_request(follower->port(), "POST", "/api/v1/write?precision=ms",
                        fmt::format("gpu,node=t-1 temp_c=50 {}\n", wall_ms()));
  ASSERT_EQ(r.status, 204) << r.body;
  ASSERT_TRUE(rx.wait_for(2, 15s)) << follower->log();
  auto got = rx.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_NE(got[0].body.find("\"event\":\"firing\""), std::string::npos) << got[0].body;
  EXPECT_NE(got[1].body.find("\"event\":\"resolved\""), std::string::npos) << got[1].body;
}

TEST_F(ExternalDb, MigrateCommandAppliesAndIsIdempotent) {
  ensure_running();
  create_db("migrate_cmd");
  TempDir data;
  std::string out;
  std::vector<std::string> args = {"migrate", "--database-url", url("migrate_cmd"), "--data-dir",
                                   data.path().string()};
  ASSERT_EQ(Daemon::run(args, &out), 0) << out;
  EXPECT_NE(out.find("applied migration 0001"), std::string::npos) << out;
  ASSERT_EQ(Daemon::run(args, &out), 0) << out;
  EXPECT_EQ(out.find("applied migration"), std::string::npos) << out;
  pqxx::connection c(pg_->conninfo("migrate_cmd"));
  EXPECT_EQ(storage::current_schema_version(c), storage::embedded_migrations().back().version);
}

// GET /api/v1/config shows both database URLs with their passwords masked, in the URL and
// in the key=value form. (The throwaway server trusts loopback connections, so the daemon
// runs with the passwords in place.)
TEST_F(ExternalDb, ConfigMasksTheDatabasePasswords) {
  ensure_running();
  create_db("masked");
  TempDir data;
  const std::string write_url =
      fmt::format("postgresql://postgres:url-s3cret@127.0.0.1:{}/masked", port_);
  const std::string read_url =
      fmt::format("host=127.0.0.1 port={} user=postgres password=kv-s3cret dbname=masked", port_);
  Daemon d(data.path(), {"--database-url", write_url, "--database-read-url", read_url});
  ASSERT_TRUE(d.wait_ready()) << d.log();
  auto r = http_request(d.port(), "GET", "/api/v1/config");
  ASSERT_EQ(r.status, 200) << r.body;
  auto db = nlohmann::json::parse(r.body)["settings"]["database"];
  EXPECT_EQ(db["url"], fmt::format("postgresql://postgres:***@127.0.0.1:{}/masked", port_));
  EXPECT_EQ(db["read_url"],
            fmt::format("host=127.0.0.1 port={} user=postgres password=*** dbname=masked", port_));
  EXPECT_EQ(r.body.find("s3cret"), std::string::npos) << r.body;
}

TEST_F(ExternalDb, UnreachableAtMigrateExitsNonZeroWithReason) {
  TempDir data;
  std::string out;
  int rc = Daemon::run({"migrate", "--database-url", "postgresql://postgres@127.0.0.1:1/none",
                        "--data-dir", data.path().string()},
                       &out);
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("migrate:"), std::string::npos) << out;
}

}  // namespace
}  // namespace metricsd::test
