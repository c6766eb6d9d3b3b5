// A full disk (issue #20): the daemon's data dir (and so its embedded PostgreSQL) lives on
// a small tmpfs the test mounts; a filler file takes the space down below
// disk.min_free_bytes while a writer keeps writing. Writes are then refused before their
// bodies are read (507 + Retry-After naming the disk, counted as disk_full), /readyz is
// 503 naming the disk, /metrics has the gauges, reads still answer with everything
// acknowledged, compaction waits; PostgreSQL never sees ENOSPC. Once the filler is gone
// the daemon resumes by itself, and nothing acknowledged is lost.
//
// Needs root (it mounts a tmpfs); without, it fails saying so.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "ingest_support.hpp"

namespace metricsd::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using nlohmann::json;

constexpr int64_t kMiB = int64_t{1} << 20;
// The file system: room for the template cluster (~40 MiB with its first WAL segment), a
// few more WAL segments, the watermark and a margin.
constexpr int64_t kTmpfsBytes = 256 * kMiB;
constexpr int64_t kMinFreeBytes = 64 * kMiB;   // resume at 80 MiB
constexpr int64_t kLeftFreeBytes = 40 * kMiB;  // what the filler leaves
constexpr auto kCheckInterval = 200ms;
// A change of free space shows in the daemon within one check; the bound leaves room for a
// busy machine.
constexpr auto kNoticeBound = 50 * kCheckInterval;

// A tmpfs of `bytes` mounted on `dir` for the life of the object; unmounted even when
// the test fails (after what runs on it has gone).
class Tmpfs {
 public:
  Tmpfs(fs::path dir, int64_t bytes) : dir_(std::move(dir)) {
    fs::create_directories(dir_);
    const std::string opts = "size=" + std::to_string(bytes) + ",mode=0755";
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, opts.c_str()) == 0)
      mounted_ = true;
    else
      error_ = std::strerror(errno);
  }
  ~Tmpfs() {
    if (!mounted_) return;
    // The daemon was killed; its PostgreSQL follows (parent-death signal) within moments.
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (::umount(dir_.c_str()) != 0) {
      if (errno != EBUSY || std::chrono::steady_clock::now() >= deadline) {
        ADD_FAILURE() << "umount " << dir_ << ": " << std::strerror(errno) << "; detaching it";
        ::umount2(dir_.c_str(), MNT_DETACH);
        return;
      }
      std::this_thread::sleep_for(100ms);
    }
  }
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

 private:
  fs::path dir_;
  bool mounted_ = false;
  std::string error_;
};

int64_t free_bytes(const fs::path& p) {
  struct statvfs st {};
  if (::statvfs(p.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.f_bavail) * static_cast<int64_t>(st.f_frsize);
}

// Writes zeros to `file` until the file system has about `left` bytes free.
void fill_until(const fs::path& file, int64_t left) {
  const int64_t take = free_bytes(file.parent_path()) - left;
  ASSERT_GT(take, 0) << "the file system already has less than " << left << " bytes free";
  std::ofstream out(file, std::ios::binary);
  const std::string block(kMiB, '\0');
  for (int64_t written = 0; written < take; written += kMiB)
    out.write(block.data(), static_cast<std::streamsize>(std::min(kMiB, take - written)));
  out.close();
  ASSERT_TRUE(out) << "writing the filler " << file;
}

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

HttpResult post_json(int port, const std::string& target, const json& body,
                     Headers headers = {{"Content-Type", "application/json"}}) {
  return http_request(port, "POST", target, body.dump(), headers);
}

// The 507 of a write refused for the disk: Retry-After, and the body names it.
void expect_disk_full(const HttpResult& r, const std::string& path) {
  EXPECT_EQ(r.status, 507) << r.body;
  EXPECT_GT(std::atoi(r.header("retry-after").c_str()), 0) << "Retry-After missing";
  json e = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(e.contains("error")) << r.body;
  EXPECT_EQ(e["error"]["code"], "insufficient_storage");
  const std::string msg = e["error"]["message"].get<std::string>();
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("disk.min_free_bytes"), std::string::npos) << msg;
  ASSERT_EQ(e["error"]["details"].size(), 1u) << r.body;
  const json& d = e["error"]["details"][0];
  EXPECT_EQ(d["path"], path);
  EXPECT_LT(d["free_bytes"].get<int64_t>(), kMinFreeBytes);
  EXPECT_EQ(d["min_free_bytes"].get<int64_t>(), kMinFreeBytes);
}

TEST(DiskFull, WritesAreRefusedBelowTheWatermarkReadsGoOnAndItResumesByItself) {
  TempDir base;
  const fs::path mountpoint = base.path() / "fs";
  Tmpfs tmpfs(mountpoint, kTmpfsBytes);
  ASSERT_TRUE(tmpfs.mounted()) << "mounting a tmpfs on " << mountpoint << " failed ("
                               << tmpfs.error()
                               << "); this test needs root (CAP_SYS_ADMIN) to make a small disk";
  const fs::path data = mountpoint / "data";
  const std::string pgdata = (data / "postgres").string();
  Daemon d(data, {"--disk-min-free-bytes", std::to_string(kMinFreeBytes),
                  "--disk-check-interval-ms", "200ms", "--ingest-compaction-interval-ms", "200ms"});
  ASSERT_TRUE(d.wait_ready()) << d.log();
  const int port = d.port();
  const std::string free_series = "metricsd_disk_free_bytes{path=\"" + pgdata + "\"}";
  EXPECT_EQ(metric_value(port, "metricsd_disk_writes_refused", -1), 0);
  EXPECT_EQ(metric_value(port, "metricsd_disk_min_free_bytes", -1), kMinFreeBytes);
  EXPECT_GT(metric_value(port, free_series, -1), kMinFreeBytes) << "the tmpfs starts with room";

  // A writer: one sample a request, value = its sequence number, one second apart from a
  // base three hours ago (closed windows: compaction would take them at once).
  const int64_t base_s = now_s() - 3 * 3600;
  std::atomic<bool> stop{false};
  std::atomic<int> unexpected{0}, refused{0};
  std::mutex mu;
  std::vector<int> acked;  // guarded by mu
  std::string last_unexpected;
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      json body = {{"node", "disk-1"},
                   {"samples", {{{"metric", "disk.seq"}, {"value", i}, {"ts", base_s + i}}}}};
      HttpResult r;
      try {
        r = post_json(port, "/api/v1/metrics", body);
      } catch (const std::exception& e) {
        r.body = e.what();
      }
      if (r.status == 200) {
        std::lock_guard lock(mu);
        acked.push_back(i);
      } else if (r.status == 507 && !r.header("retry-after").empty()) {
        ++refused;
      } else {
        ++unexpected;
        std::lock_guard lock(mu);
        last_unexpected = std::to_string(r.status) + " " + r.body;
      }
      std::this_thread::sleep_for(20ms);
    }
  });
  auto acked_count = [&] {
    std::lock_guard lock(mu);
    return acked.size();
  };
  ASSERT_TRUE(eventually([&] { return acked_count() >= 20; })) << d.log();

  // The disk fills up (by someone else's file): writes are refused within a few checks.
  const fs::path filler = mountpoint / "filler";
  fill_until(filler, kLeftFreeBytes);
  const json one = {{"node", "disk-2"}, {"samples", {{{"metric", "disk.one"}, {"value", 1}}}}};
  int test_refused = 0;
  ASSERT_TRUE(eventually(
      [&] {
        auto r = post_json(port, "/api/v1/metrics", one);
        if (r.status == 507) ++test_refused;
        return r.status == 507;
      },
      kNoticeBound))
      << "free now: " << free_bytes(mountpoint) << "\n"
      << d.log();
  const auto refusing_since = std::chrono::steady_clock::now();

  // Every write route: 507 + Retry-After, the body naming the disk, before the body is
  // read (a malformed one is not even looked at); auth still comes first.
  auto r = post_json(port, "/api/v1/metrics", one);
  expect_disk_full(r, pgdata);
  ++test_refused;
  r = http_request(port, "POST", "/api/v1/write", "disk,node=disk-2 v=1\n");
  expect_disk_full(r, pgdata);
  ++test_refused;
  r = http_request(port, "POST", "/write?precision=s", "disk,node=disk-2 v=1 1700000000\n");
  expect_disk_full(r, pgdata);
  ++test_refused;
  r = post_json(port, "/api/v1/nodes/disk-2/heartbeat",
                {{"type", "generation"}, {"metrics", {{"system.cpu_util", 1.0}}}});
  expect_disk_full(r, pgdata);
  ++test_refused;
  r = http_request(port, "POST", "/api/v1/metrics", "{not json",
                   {{"Content-Type", "application/json"}});
  expect_disk_full(r, pgdata);
  ++test_refused;
  r = post_json(port, "/api/v1/metrics", one,
                {{"Content-Type", "application/json"}, {"Authorization", ""}});
  EXPECT_EQ(r.status, 401) << r.body;
  r = post_json(port, "/api/v1/metrics", one,
                {{"Content-Type", "application/json"}, {"Authorization", "Bearer mtd_wrong"}});
  EXPECT_EQ(r.status, 401) << r.body;

  // Not ready, naming the disk; the gauges say why.
  r = http_request(port, "GET", "/readyz");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find(pgdata), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("disk.min_free_bytes"), std::string::npos) << r.body;
  EXPECT_FALSE(r.header("retry-after").empty());
  EXPECT_EQ(metric_value(port, "metricsd_disk_writes_refused", -1), 1);
  EXPECT_LT(metric_value(port, free_series, -1), kMinFreeBytes);
  EXPECT_GT(metric_value(port, free_series, -1), 0);
  // The liveness probe is not the readiness probe: the process is fine.
  EXPECT_EQ(http_request(port, "GET", "/healthz").status, 200);

  // Reads go on: everything acknowledged so far is there.
  std::vector<int> acked_before;
  {
    std::lock_guard lock(mu);
    acked_before = acked;
  }
  const std::string query =
      "/api/v1/query?metric=disk.seq&node=disk-1&from=" + std::to_string(base_s) +
      "&to=" + std::to_string(base_s + 10800) + "&step=1s&agg=count";
  r = http_request(port, "GET", query);
  ASSERT_EQ(r.status, 200) << r.body;
  {
    json q = json::parse(r.body);
    ASSERT_EQ(q["series"].size(), 1u) << r.body;
    std::set<int64_t> stored;
    for (const auto& p : q["series"][0]["points"])
      stored.insert((p[0].get<int64_t>() - base_s * 1000) / 1000);
    for (int i : acked_before)
      EXPECT_TRUE(stored.count(i)) << "acknowledged and not read back: " << i;
  }

  // Compaction waits. Once a paused pass was seen, no compaction pass is in flight; the
  // inbox rows written just before the refusal are past their settle time 6 s later, so a
  // pass after that would move them if it ran.
  const std::string paused = "metricsd_maintenance_paused_total{job=\"compaction\"}";
  ASSERT_TRUE(eventually([&] { return metric_value(port, paused, 0) > 0; }, kNoticeBound))
      << d.log();
  const double compacted = metric_value(port, "metricsd_compaction_samples_total", 0);
  const auto settled = refusing_since + 6s;
  double paused_after_settle = 0;
  ASSERT_TRUE(eventually(
      [&] {
        if (std::chrono::steady_clock::now() < settled) return false;
        if (paused_after_settle == 0) paused_after_settle = metric_value(port, paused, 0);
        return metric_value(port, paused, 0) > paused_after_settle;
      },
      10s + kNoticeBound))
      << d.log();
  EXPECT_EQ(metric_value(port, "metricsd_compaction_samples_total", 0), compacted);
  Db db(data);
  EXPECT_GT(db.count("SELECT count(*) FROM inbox"), 0) << "the inbox waits for compaction";

  // Space comes back: writes are accepted again by themselves, ready again.
  fs::remove(filler);
  ASSERT_TRUE(eventually(
      [&] {
        auto w = post_json(port, "/api/v1/metrics", one);
        if (w.status == 507) ++test_refused;
        return w.status == 200;
      },
      kNoticeBound))
      << d.log();
  EXPECT_TRUE(
      eventually([&] { return http_request(port, "GET", "/readyz").status == 200; }, kNoticeBound));
  EXPECT_EQ(metric_value(port, "metricsd_disk_writes_refused", -1), 0);
  const size_t acked_at_resume = acked_count();
  EXPECT_TRUE(eventually([&] { return acked_count() >= acked_at_resume + 20; })) << d.log();
  stop = true;
  writer.join();

  EXPECT_EQ(unexpected.load(), 0) << "every refusal is a 507 with Retry-After; last other: "
                                  << last_unexpected;
  EXPECT_GT(refused.load(), 0) << "the writer saw the refusal too";
  // Each refused request counted once, under its own reason.
  EXPECT_EQ(metric_value(port, "metricsd_ingest_rejected_requests_total{reason=\"disk_full\"}", 0),
            refused.load() + test_refused);
  // Compaction resumes and takes what waited.
  EXPECT_TRUE(eventually(
      [&] { return metric_value(port, "metricsd_compaction_samples_total", 0) > compacted; }, 20s))
      << d.log();

  // Nothing acknowledged is lost, nothing stored twice.
  r = http_request(port, "GET", query);
  ASSERT_EQ(r.status, 200) << r.body;
  json q = json::parse(r.body);
  ASSERT_EQ(q["series"].size(), 1u) << r.body;
  std::set<int64_t> stored;
  for (const auto& p : q["series"][0]["points"]) {
    EXPECT_EQ(p[1].get<double>(), 1) << "stored twice: " << p.dump();
    stored.insert((p[0].get<int64_t>() - base_s * 1000) / 1000);
  }
  for (int i : acked)
    EXPECT_TRUE(stored.count(i)) << "acknowledged and lost: " << i;

  // Each turn logged once; PostgreSQL never ran out of space.
  const std::string log = d.log();
  auto occurrences = [&](const std::string& s) {
    size_t n = 0;
    for (size_t at = log.find(s); at != std::string::npos; at = log.find(s, at + 1))
      ++n;
    return n;
  };
  EXPECT_EQ(occurrences("until then sample writes and heartbeats get 507 and compaction waits"), 1u)
      << log;
  EXPECT_NE(log.find("not enough disk space: the file system of " + pgdata), std::string::npos);
  EXPECT_EQ(occurrences("disk space is back"), 1u) << log;
  std::ifstream pglog(data / "postgres.log");
  const std::string pg((std::istreambuf_iterator<char>(pglog)), std::istreambuf_iterator<char>());
  EXPECT_EQ(pg.find("No space left on device"), std::string::npos) << pg;
  EXPECT_EQ(pg.find("PANIC"), std::string::npos) << pg;

  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(30s), 0) << d.log();
}

}  // namespace
}  // namespace metricsd::test
