// database.embedded_sql_listen: the embedded PostgreSQL also listens on TCP, where only the
// read-only role metricsd_reader gets in (scram-sha-256, with the password the daemon made
// in <data_dir>/sql-reader.password, 0600). The role reads `metrics` and metrics_between()
// and nothing else: no tokens, no audit log, no writes, no DDL, no temporary tables. The
// password is in no log; the superuser has no TCP access; the setting is checked.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fmt/format.h>
#include <chrono>
#include <fstream>
#include <pqxx/pqxx>

#include "harness.hpp"
#include "tool_process.hpp"

namespace metricsd::test {
namespace {

std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

class SqlReader : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    sql_port_ = free_port();
    daemon_ = new Daemon(
        dir_->path(), {"--database-embedded-sql-listen", "127.0.0.1:" + std::to_string(sql_port_)});
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
    password_ = read_file(password_file());
    while (!password_.empty() && password_.back() == '\n')
      password_.pop_back();
    int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    auto r = http_request(daemon_->port(), "POST", "/api/v1/metrics",
                          fmt::format(R"({{"node":"sql-1","ts":{},"metrics":{{"gpu.temp_c":71.5,
                          "gpu.util":93}}}})",
                                      now_s - 10));
    ASSERT_EQ(r.status, 200) << r.body;
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete dir_;
  }
  static std::filesystem::path password_file() { return dir_->path() / "sql-reader.password"; }
  static std::string tcp(const std::string& user, const std::string& password,
                         const std::string& db = "metricsd") {
    return fmt::format(
        "host=127.0.0.1 port={} user='{}' password='{}' dbname='{}' sslmode=disable "
        "connect_timeout=5",
        sql_port_, user, password, db);
  }
  static std::string reader() { return tcp("metricsd_reader", password_); }

  static TempDir* dir_;
  static Daemon* daemon_;
  static int sql_port_;
  static std::string password_;
};
TempDir* SqlReader::dir_ = nullptr;
Daemon* SqlReader::daemon_ = nullptr;
int SqlReader::sql_port_ = 0;
std::string SqlReader::password_;

TEST_F(SqlReader, ThePasswordFileIsPrivateAndTheLogsNameItButNotThePassword) {
  ASSERT_GE(password_.size(), 32u);
  struct stat st {};
  ASSERT_EQ(stat(password_file().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  auto log = daemon_->log();
  EXPECT_NE(log.find(password_file().string()), std::string::npos) << log;
  EXPECT_NE(log.find("metricsd_reader"), std::string::npos) << log;
  EXPECT_EQ(log.find(password_), std::string::npos);
  // A failed login is in PostgreSQL's log: the attempt, never a password.
  EXPECT_THROW(pqxx::connection(tcp("metricsd_reader", "wrong")), pqxx::broken_connection);
  EXPECT_EQ(read_file(dir_->path() / "postgres.log").find(password_), std::string::npos);
}

TEST_F(SqlReader, TheReaderReadsTheViewAndMetricsBetweenOverTcp) {
  pqxx::connection c(reader());
  pqxx::nontransaction tx(c);
  auto view = tx.exec("SELECT metric, value FROM metrics WHERE node = 'sql-1' ORDER BY metric");
  ASSERT_EQ(view.size(), 2u);
  EXPECT_EQ(view[0][0].as<std::string>(), "gpu.temp_c");
  EXPECT_EQ(view[0][1].as<double>(), 71.5);
  // A Grafana time-series panel's query, with what $__timeFrom()/$__timeTo() expand to.
  auto between = tx.exec(
      "SELECT time AS \"time\", node AS metric, value FROM "
      "metrics_between(now() - interval '1 hour', now(), 'gpu.temp_c') ORDER BY 1");
  ASSERT_EQ(between.size(), 1u);
  EXPECT_EQ(between[0][1].as<std::string>(), "sql-1");
  EXPECT_EQ(between[0][2].as<double>(), 71.5);
}

TEST_F(SqlReader, EverythingElseIsRefused) {
  pqxx::connection c(reader());
  pqxx::nontransaction tx(c);
  // Read-only by default; and with that switched off, by its privileges.
  EXPECT_THROW(tx.exec("INSERT INTO runtime_settings SELECT * FROM runtime_settings LIMIT 0"),
               pqxx::sql_error);
  tx.exec("SET default_transaction_read_only = off");
  for (const char* sql : {
           "SELECT * FROM tokens",
           "SELECT * FROM audit_log",
           "SELECT * FROM series",
           "SELECT * FROM sample_blocks",
           "SELECT * FROM inbox",
           "SELECT * FROM nodes",
           "INSERT INTO series (metric, category, node_id) VALUES ('x', 'x', 'x')",
           "UPDATE tokens SET role = 'admin'",
           "DELETE FROM audit_log",
           "DELETE FROM sample_blocks",
           "TRUNCATE inbox",
           "CREATE TABLE mine (x int)",
           "CREATE TEMP TABLE mine (x int)",
           "CREATE VIEW mine AS SELECT 1",
           "CREATE FUNCTION mine() RETURNS int LANGUAGE sql AS 'SELECT 1'",
           "SELECT metricsd_ensure_partition('sample_blocks', 0)",
           "DROP VIEW metrics",
           "GRANT SELECT ON tokens TO metricsd_reader",
           "ALTER ROLE metricsd_reader SUPERUSER",
           "SET ROLE postgres",
           "CREATE DATABASE mine",
       }) {
    try {
      tx.exec(sql);
      ADD_FAILURE() << "allowed: " << sql;
    } catch (const pqxx::sql_error& e) {
      std::string what = e.what();
      EXPECT_TRUE(what.find("permission denied") != std::string::npos ||
                  what.find("must be") != std::string::npos)
          << sql << ": " << what;
    }
  }
}

TEST_F(SqlReader, OnlyTheReaderWithItsPasswordGetsInOverTcp) {
  EXPECT_THROW(pqxx::connection(tcp("metricsd_reader", "wrong")), pqxx::broken_connection);
  EXPECT_THROW(pqxx::connection(tcp("metricsd_reader", "")), pqxx::broken_connection);
  // The superuser, trusted on the private socket, is refused over TCP with any password.
  EXPECT_THROW(pqxx::connection(tcp("postgres", password_)), pqxx::broken_connection);
  EXPECT_THROW(pqxx::connection(tcp("postgres", "x")), pqxx::broken_connection);
  // The reader, to another database.
  EXPECT_THROW(pqxx::connection(tcp("metricsd_reader", password_, "postgres")),
               pqxx::broken_connection);
  // The daemon itself still works through its socket, on the listen port's number.
  pqxx::connection own("host=" + (dir_->path() / "run").string() +
                       " port=" + std::to_string(sql_port_) + " user=postgres dbname=metricsd");
  EXPECT_TRUE(own.is_open());
}

TEST_F(SqlReader, ThePasswordSurvivesARestart) {
  std::string before = read_file(password_file());
  daemon_->signal(SIGTERM);
  ASSERT_EQ(daemon_->wait_exit(std::chrono::seconds(60)), 0) << daemon_->log();
  delete daemon_;
  daemon_ = new Daemon(
      dir_->path(), {"--database-embedded-sql-listen", "127.0.0.1:" + std::to_string(sql_port_)});
  ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
  EXPECT_EQ(read_file(password_file()), before);
  pqxx::connection c(reader());
  EXPECT_TRUE(c.is_open());
}

TEST(SqlReaderSettings, BadAddressesAreRefusedAtStart) {
  for (const char* bad : {"127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", ":5433", "a:b:5433"}) {
    std::string out;
    EXPECT_EQ(Daemon::run({"serve", "--database-embedded-sql-listen", bad}, &out), 2) << bad;
    EXPECT_NE(out.find("database.embedded_sql_listen"), std::string::npos) << out;
  }
}

TEST(SqlReaderSettings, WithoutTheSettingThereIsNoTcpListener) {
  TempDir dir;
  Daemon d(dir.path());
  ASSERT_TRUE(d.wait_ready()) << d.log();
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "sql-reader.password"));
  pqxx::connection c("host=" + (dir.path() / "run").string() +
                     " port=5432 user=postgres dbname=metricsd");
  pqxx::nontransaction tx(c);
  EXPECT_EQ(tx.exec("SHOW listen_addresses")[0][0].as<std::string>(), "");
  EXPECT_TRUE(tx.exec("SELECT 1 FROM pg_roles WHERE rolname = 'metricsd_reader'").empty());
}

}  // namespace
}  // namespace metricsd::test
