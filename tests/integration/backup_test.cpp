// `metricsd backup DIR` and `metricsd restore DIR`: a backup taken while the daemon serves
// and writes go on holds every write acknowledged before it started; a restore brings the
// data dir back to it (the replaced cluster kept aside); bad directories, a running
// daemon, a missing --yes and an external database are refused with a clear line.
#include <signal.h>

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <atomic>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "harness.hpp"
#include "ingest_support.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// One request of 10 samples of `node`, values request*100 + i; true when acknowledged.
bool write_request(int port, const std::string& node, int request) {
  nlohmann::json samples = nlohmann::json::array();
  for (int i = 0; i < 10; ++i)
    samples.push_back({{"metric", "bk.value"}, {"value", request * 100 + i}});
  nlohmann::json body = {{"node", node}, {"samples", samples}};
  auto r = http_request(port, "POST", "/api/v1/metrics", body.dump(),
                        {{"Content-Type", "application/json"}});
  return r.status == 200;
}

std::set<int64_t> stored_values(const fs::path& data_dir, const std::string& node) {
  Db db(data_dir);
  std::set<int64_t> out;
  for (const auto& row : db.query("SELECT value FROM metrics WHERE node = $1", node))
    out.insert(static_cast<int64_t>(row[0].as<double>()));
  return out;
}

std::vector<fs::path> kept_aside(const fs::path& data_dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(data_dir))
    if (e.path().filename().string().rfind("postgres.before-restore-", 0) == 0)
      out.push_back(e.path());
  return out;
}

TEST(Backup, TakenWhileServingThenRestoredHoldsEveryEarlierAcknowledgedWrite) {
  TempDir dir;
  fs::path data = dir.path() / "data", backup = dir.path() / "backup";
  auto daemon = std::make_unique<Daemon>(data);
  ASSERT_TRUE(daemon->wait_ready()) << daemon->log();
  const int port = daemon->port();
  for (int r = 0; r < 20; ++r)
    ASSERT_TRUE(write_request(port, "bk-before", r));

  // Writes go on while the backup runs; those acknowledged before it started must be in it.
  std::atomic<bool> stop{false};
  std::atomic<int> acknowledged_before_backup{-1};
  std::mutex mu;
  std::vector<int> acknowledged;
  std::thread writer([&] {
    for (int r = 0; !stop.load(); ++r)
      if (write_request(port, "bk-during", r)) {
        std::lock_guard lock(mu);
        acknowledged.push_back(r);
      }
  });
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return acknowledged.size() >= 5;
  }));
  {
    std::lock_guard lock(mu);
    acknowledged_before_backup = static_cast<int>(acknowledged.size());
  }
  std::string out;
  int rc = Daemon::run({"backup", backup.string(), "--data-dir", data.string()}, &out);
  stop = true;
  writer.join();
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("backup of"), std::string::npos) << out;
  EXPECT_TRUE(fs::exists(backup / "metricsd-backup.json"));
  EXPECT_TRUE(fs::exists(backup / "postgres" / "backup_label"));
  for (int r = 0; r < 5; ++r)
    ASSERT_TRUE(write_request(port, "bk-after", r));

  // Refusals while it runs: a non-empty target, a restore under a running daemon.
  EXPECT_EQ(Daemon::run({"backup", backup.string(), "--data-dir", data.string()}, &out), 2);
  EXPECT_NE(out.find("not empty"), std::string::npos) << out;
  EXPECT_EQ(Daemon::run({"restore", backup.string(), "--yes", "--data-dir", data.string()}, &out),
            1);
  EXPECT_NE(out.find("daemon stopped"), std::string::npos) << out;

  daemon->signal(SIGTERM);
  ASSERT_EQ(daemon->wait_exit(60s), 0) << daemon->log();
  daemon.reset();

  // With the daemon stopped, a backup starts the cluster for the moment.
  fs::path second = dir.path() / "backup-stopped";
  ASSERT_EQ(Daemon::run({"backup", second.string(), "--data-dir", data.string()}, &out), 0) << out;

  // Without --yes the restore only says what it would do.
  EXPECT_EQ(Daemon::run({"restore", backup.string(), "--data-dir", data.string()}, &out), 2);
  EXPECT_NE(out.find("--yes"), std::string::npos) << out;
  EXPECT_TRUE(kept_aside(data).empty());
  ASSERT_EQ(Daemon::run({"restore", backup.string(), "--yes", "--data-dir", data.string()}, &out),
            0)
      << out;
  EXPECT_NE(out.find("restored"), std::string::npos) << out;
  ASSERT_EQ(kept_aside(data).size(), 1u) << "the replaced cluster is kept, not deleted";

  daemon = std::make_unique<Daemon>(data);
  ASSERT_TRUE(daemon->wait_ready()) << daemon->log();
  EXPECT_EQ(stored_values(data, "bk-before").size(), 200u);
  auto during = stored_values(data, "bk-during");
  {
    std::lock_guard lock(mu);
    for (int i = 0; i < acknowledged_before_backup.load(); ++i)
      for (int s = 0; s < 10; ++s)
        EXPECT_TRUE(during.count(acknowledged[static_cast<size_t>(i)] * 100 + s))
            << "request " << acknowledged[static_cast<size_t>(i)]
            << " was acknowledged before the backup started";
  }
  EXPECT_TRUE(stored_values(data, "bk-after").empty()) << "written after the backup";
  // The restored daemon takes writes.
  EXPECT_TRUE(write_request(daemon->port(), "bk-after", 0));

  // The second backup (the state before the restore) restores too, over the first.
  daemon->signal(SIGTERM);
  ASSERT_EQ(daemon->wait_exit(60s), 0) << daemon->log();
  daemon.reset();
  ASSERT_EQ(Daemon::run({"restore", second.string(), "--yes", "--data-dir", data.string()}, &out),
            0)
      << out;
  daemon = std::make_unique<Daemon>(data);
  ASSERT_TRUE(daemon->wait_ready()) << daemon->log();
  EXPECT_EQ(stored_values(data, "bk-after").size(), 50u);
}

TEST(Backup, BadDirectoriesAndExternalDatabasesAreRefusedWithOneClearLine) {
  TempDir dir;
  fs::path data = dir.path() / "data";
  std::string out;
  EXPECT_EQ(Daemon::run({"backup", "--data-dir", data.string()}, &out), 2);
  EXPECT_NE(out.find("needs a directory"), std::string::npos) << out;
  fs::create_directories(dir.path() / "junk");
  std::ofstream(dir.path() / "junk" / "file") << "x";
  EXPECT_EQ(
      Daemon::run({"restore", (dir.path() / "junk").string(), "--yes", "--data-dir", data.string()},
                  &out),
      2);
  EXPECT_NE(out.find("is not a backup"), std::string::npos) << out;
  EXPECT_EQ(Daemon::run({"restore", (dir.path() / "missing").string(), "--data-dir", data.string()},
                        &out),
            2);
  EXPECT_NE(out.find("is not a backup"), std::string::npos) << out;
  for (const char* command : {"backup", "restore"}) {
    EXPECT_EQ(Daemon::run({command, (dir.path() / "b").string(), "--database-url",
                           "postgresql://127.0.0.1:1/none", "--data-dir", data.string()},
                          &out),
              2);
    EXPECT_NE(out.find("its own tools"), std::string::npos) << out;
  }
  EXPECT_EQ(
      Daemon::run({"backup", (dir.path() / "b").string(), "extra", "--data-dir", data.string()},
                  &out),
      2);
  EXPECT_NE(out.find("unexpected argument"), std::string::npos) << out;
}

}  // namespace
}  // namespace metricsd::test
