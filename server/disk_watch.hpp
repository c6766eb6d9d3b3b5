// DiskWatch: every disk.check_interval_ms, the free space (statvfs) of the file systems the
// database lives on: the embedded PostgreSQL's data directory, its WAL directory (pg_wal
// may be a link to another disk) and the daemon's data_dir, each file system once; with
// database.url only data_dir (the database server's disk is its administrator's to
// watch). Each round goes to the DiskWatermark, which decides whether writes are refused;
// the watch logs each turn once (a warning when refusing starts, info when it ends) and
// keeps the gauges metricsd_disk_free_bytes{path}, metricsd_disk_min_free_bytes and
// metricsd_disk_writes_refused.
//
// Threads: a thread of its own ("md-disk-watch"), so a file system slow to answer statvfs
// never holds up an io thread; start()/stop() from the thread that starts and stops the
// daemon. paths_ and the metric references are constant after construction; stopping_ is
// guarded by mu_; failing_ belongs to the watch thread (and to start(), before it runs).
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/disk_watermark.hpp"
#include "core/prom.hpp"
#include "core/settings.hpp"

namespace metricsd::server {

class DiskWatch {
 public:
  // `paths` in the order their names are preferred in messages; those on a file system
  // already listed are left out.
  DiskWatch(std::vector<std::filesystem::path> paths, std::chrono::milliseconds interval,
            DiskWatermark& watermark, prom::Registry& metrics);
  ~DiskWatch();
  DiskWatch(const DiskWatch&) = delete;
  DiskWatch& operator=(const DiskWatch&) = delete;

  // One check at once (the first requests already see the state), then the thread.
  void start();
  void stop();  // idempotent

  const std::vector<std::filesystem::path>& paths() const { return paths_; }

 private:
  void run();
  void check();

  const std::vector<std::filesystem::path> paths_;  // one per file system
  const std::chrono::milliseconds interval_;
  DiskWatermark& watermark_;
  std::vector<prom::Gauge*> free_;  // metricsd_disk_free_bytes, one per path
  prom::Gauge& refused_;
  prom::Counter& failures_;
  std::vector<bool> failing_;  // per path: the last statvfs failed (logged once per streak)
  std::mutex mu_;              // guards stopping_
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

// What to watch for these settings, data_dir absolute: <data_dir>/postgres, its pg_wal
// and data_dir for the embedded PostgreSQL; data_dir alone with database.url.
std::vector<std::filesystem::path> disk_watch_paths(const Settings& s,
                                                    const std::filesystem::path& data_dir);

}  // namespace metricsd::server
