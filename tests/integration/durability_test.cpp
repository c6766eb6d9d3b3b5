// The promise: every sample of every acknowledged write survives, whatever happens to
// the daemon or its database after the 2xx. Writers run on several connections while
// the daemon is killed with SIGKILL (and, separately, while PostgreSQL is stopped).
#include <signal.h>

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <mutex>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "harness.hpp"
#include "storage/embedded_postgres.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;

constexpr int kSamplesPerRequest = 50;

// Sample values are unique: writer * 1e9 + request * 1000 + index.
double value_of(int writer, int request, int index) {
  return writer * 1e9 + request * 1000.0 + index;
}

struct Outcome {
  std::mutex mu;
  std::vector<std::pair<int, int>> acknowledged;  // (writer, request)
  std::vector<std::pair<int, int>> rejected;      // answered 4xx: must not be stored
  int unavailable = 0;                            // answered 503
};

// Posts JSON batches until `stop`; every 7th request carries one invalid sample.
void write_until(int port_or_zero, std::atomic<int>& port, int writer, std::atomic<bool>& stop,
                 Outcome& out) {
  (void)port_or_zero;
  for (int request = 0; !stop.load(); ++request) {
    bool poisoned = request % 7 == 6;
    nlohmann::json samples = nlohmann::json::array();
    for (int i = 0; i < kSamplesPerRequest; ++i) {
      nlohmann::json s = {{"metric", fmt::format("dur.w{}", writer)},
                          {"value", value_of(writer, request, i)}};
      if (poisoned && i == kSamplesPerRequest / 2) s["metric"] = "9-not-a-metric";
      samples.push_back(s);
    }
    nlohmann::json body = {{"node", fmt::format("writer-{}", writer)}, {"samples", samples}};
    try {
      auto r = http_request(port.load(), "POST", "/api/v1/metrics", body.dump(),
                            {{"Content-Type", "application/json"}});
      std::lock_guard lock(out.mu);
      if (r.status == 200)
        out.acknowledged.emplace_back(writer, request);
      else if (r.status == 503)
        ++out.unavailable;
      else if (r.status >= 400 && r.status < 500)
        out.rejected.emplace_back(writer, request);
    } catch (const std::exception&) {
      std::this_thread::sleep_for(20ms);  // daemon gone or restarting; keep trying
    }
  }
}

std::set<double> stored_values(const std::string& conninfo) {
  pqxx::connection c(conninfo);
  pqxx::nontransaction tx(c);
  std::set<double> out;
  for (const auto& row : tx.exec("SELECT value FROM metrics WHERE metric LIKE 'dur.w%'"))
    out.insert(row[0].as<double>());
  return out;
}

size_t acknowledged(Outcome& out) {
  std::lock_guard lock(out.mu);
  return out.acknowledged.size();
}

int unavailable(Outcome& out) {
  std::lock_guard lock(out.mu);
  return out.unavailable;
}

void expect_all_acknowledged_stored(Outcome& out, const std::set<double>& stored) {
  size_t missing = 0;
  for (auto [w, r] : out.acknowledged)
    for (int i = 0; i < kSamplesPerRequest; ++i)
      if (!stored.count(value_of(w, r, i))) ++missing;
  EXPECT_EQ(missing, 0u) << "acknowledged samples lost";
  size_t leaked = 0;
  for (auto [w, r] : out.rejected)
    for (int i = 0; i < kSamplesPerRequest; ++i)
      if (stored.count(value_of(w, r, i))) ++leaked;
  EXPECT_EQ(leaked, 0u) << "samples of rejected requests were stored";
}

// Four writers posting until join(), to whatever port `port` holds.
struct Writers {
  explicit Writers(int first_port) : port(first_port) {
    for (int w = 0; w < 4; ++w)
      threads.emplace_back([this, w] { write_until(0, port, w, stop, out); });
  }
  ~Writers() { join(); }
  void join() {
    stop = true;
    for (auto& t : threads)
      if (t.joinable()) t.join();
  }
  std::atomic<int> port;
  std::atomic<bool> stop{false};
  Outcome out;
  std::vector<std::thread> threads;
};

std::set<double> stored_in(const TempDir& dir) {
  return stored_values(
      fmt::format("host={}/run port=5432 user=postgres dbname=metricsd", dir.path().string()));
}

TEST(Durability, EveryAcknowledgedSampleSurvivesSigkillMidStream) {
  TempDir dir;
  // A cluster of the daemon's own initdb, as on a real first start, not the tests' template.
  auto d = std::make_unique<Daemon>(dir.path(), std::vector<std::string>{},
                                    std::vector<std::pair<std::string, std::string>>{},
                                    Cluster::fresh_initdb);
  ASSERT_TRUE(d->wait_ready()) << d->log();
  Writers writers(d->port());
  Outcome& out = writers.out;
  // Killed mid-stream: once the writers have had plenty acknowledged (and go on writing).
  const bool going = eventually([&] { return acknowledged(out) > 40; }, 30s);
  d->signal(SIGKILL);
  ASSERT_TRUE(d->wait_exit(5s).has_value());
  const size_t acked_before_kill = acknowledged(out);
  // Same data dir: the embedded PostgreSQL recovers from its WAL.
  d = std::make_unique<Daemon>(dir.path());
  ASSERT_TRUE(d->wait_ready()) << d->log();
  writers.port = d->port();
  // The writers go on against the new daemon.
  const bool resumed = eventually([&] { return acknowledged(out) > acked_before_kill + 20; }, 30s);
  writers.join();
  ASSERT_TRUE(going) << "the writers did not get going before the kill";
  EXPECT_TRUE(resumed) << "the writers got nothing acknowledged after the restart";
  ASSERT_FALSE(out.rejected.empty());
  expect_all_acknowledged_stored(out, stored_in(dir));
}

// SIGTERM while writers are busy: the drain answers every request in flight and the
// writer commits what it queued before PostgreSQL stops, so every 2xx survives the
// restart and the daemon exits 0 without a failed commit in its log.
TEST(Durability, EveryAcknowledgedSampleSurvivesSigtermMidStream) {
  TempDir dir;
  auto d = std::make_unique<Daemon>(dir.path());
  ASSERT_TRUE(d->wait_ready()) << d->log();
  Writers writers(d->port());
  ASSERT_TRUE(eventually([&] { return acknowledged(writers.out) > 20; }, 30s))
      << "the writers did not get going";
  d->signal(SIGTERM);
  auto code = d->wait_exit(30s);
  writers.join();
  ASSERT_EQ(code, std::optional<int>(0)) << d->log();
  std::string log = d->log();
  EXPECT_EQ(log.find("commit of"), std::string::npos) << "a group commit failed:\n" << log;
  EXPECT_NE(log.find("metricsd stopped"), std::string::npos) << log;
  d = std::make_unique<Daemon>(dir.path());
  ASSERT_TRUE(d->wait_ready()) << d->log();
  expect_all_acknowledged_stored(writers.out, stored_in(dir));
}

int free_port() {
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

TEST(Durability, PostgresStoppedUnderLoadGives503sAndLosesNothingAcknowledged) {
  TempDir dir;
  storage::EmbeddedPostgres::Options o;
  o.data_dir = dir.path() / "cluster";
  o.tcp_port = free_port();
  storage::EmbeddedPostgres pg(o);
  pg.start();
  TempDir data;
  Daemon d(data.path(), {"--database-url",
                         fmt::format("postgresql://postgres@127.0.0.1:{}/metricsd", o.tcp_port)});
  ASSERT_TRUE(d.wait_ready()) << d.log();
  std::atomic<int> port{d.port()};
  std::atomic<bool> stop{false};
  Outcome out;
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w)
    writers.emplace_back([&, w] { write_until(0, port, w, stop, out); });
  ASSERT_TRUE(eventually([&] { return acknowledged(out) > 20; }, 30s))
      << "the writers did not get going\n"
      << d.log();
  pg.stop(std::chrono::milliseconds(100));  // fast shutdown under load
  // The writers go on while it is down, and get 503s.
  eventually([&] { return unavailable(out) > 5; }, 15s);
  const int unavailable_while_down = unavailable(out);
  pg.start();
  // Writes succeed again by themselves.
  const size_t acked_at_restart = acknowledged(out);
  const bool recovered = eventually([&] { return acknowledged(out) > acked_at_restart + 5; }, 15s);
  stop = true;
  for (auto& t : writers)
    t.join();
  EXPECT_GT(unavailable_while_down, 0) << "no 503 while PostgreSQL was down\n" << d.log();
  EXPECT_TRUE(recovered) << "writes did not recover after PostgreSQL came back\n" << d.log();
  expect_all_acknowledged_stored(out, stored_values(pg.conninfo()));
}

}  // namespace
}  // namespace metricsd::test
