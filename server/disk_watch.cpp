// Watching the database's disks; see disk_watch.hpp.
#include "server/disk_watch.hpp"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/thread_name.hpp"

namespace fs = std::filesystem;

namespace metricsd::server {
namespace {

// The paths, keeping the first of each file system (device). One that cannot be stat'ed
// yet is kept: its statvfs failures are reported like any other.
std::vector<fs::path> one_per_file_system(std::vector<fs::path> paths) {
  std::vector<fs::path> out;
  std::vector<dev_t> seen;
  for (auto& p : paths) {
    struct stat st {};
    if (::stat(p.c_str(), &st) == 0) {
      if (std::find(seen.begin(), seen.end(), st.st_dev) != seen.end()) continue;
      seen.push_back(st.st_dev);
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace

std::vector<fs::path> disk_watch_paths(const Settings& s, const fs::path& data_dir) {
  if (!s.database_url.empty()) return {data_dir};
  // PostgreSQL's own directories first: where a full disk hurts, so messages name them.
  return {data_dir / "postgres", data_dir / "postgres" / "pg_wal", data_dir};
}

DiskWatch::DiskWatch(std::vector<fs::path> paths, std::chrono::milliseconds interval,
                     DiskWatermark& watermark, prom::Registry& metrics)
    : paths_(one_per_file_system(std::move(paths))),
      interval_(interval),
      watermark_(watermark),
      refused_(metrics
                   .gauge("metricsd_disk_writes_refused",
                          "1 while a watched file system has less than disk.min_free_bytes free "
                          "(writes get 507, compaction waits), else 0")
                   .get()),
      failures_(metrics
                    .counter("metricsd_disk_check_failures_total",
                             "Free-space checks (statvfs) of a watched path that failed")
                    .get()),
      failing_(paths_.size(), false) {
  auto& free = metrics.gauge("metricsd_disk_free_bytes",
                             "Bytes free (for unprivileged users) on the file system of each "
                             "watched path, at the last check",
                             {"path"});
  for (const auto& p : paths_)
    free_.push_back(&free.with({p.string()}));
  metrics
      .gauge("metricsd_disk_min_free_bytes",
             "disk.min_free_bytes: below this much free space writes are refused (0: never)")
      .get()
      .set(static_cast<double>(watermark_.min_free_bytes()));
}

DiskWatch::~DiskWatch() {
  stop();
}

void DiskWatch::start() {
  check();
  thread_ = std::thread([this] {
    name_this_thread("md-disk-watch");
    run();
  });
}

void DiskWatch::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DiskWatch::run() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, interval_, [this] { return stopping_; })) {
    lock.unlock();
    check();
    lock.lock();
  }
}

void DiskWatch::check() {
  std::vector<DiskReading> readings;
  for (size_t i = 0; i < paths_.size(); ++i) {
    struct statvfs st {};
    if (::statvfs(paths_[i].c_str(), &st) != 0) {
      const int err = errno;
      failures_.inc();
      if (!failing_[i])
        spdlog::warn(
            "disk watch: statvfs({}) failed: {}; its free space is not known until it "
            "answers",
            paths_[i].string(), std::strerror(err));
      failing_[i] = true;
      continue;
    }
    if (failing_[i]) spdlog::info("disk watch: statvfs({}) answers again", paths_[i].string());
    failing_[i] = false;
    const auto free = static_cast<int64_t>(st.f_bavail) * static_cast<int64_t>(st.f_frsize);
    free_[i]->set(static_cast<double>(free));
    readings.push_back({paths_[i].string(), free});
  }
  switch (watermark_.observe(readings)) {
    case DiskWatermark::Change::kRefusing:
      if (auto low = watermark_.shortage())
        spdlog::warn("{}; until then sample writes and heartbeats get 507 and compaction waits",
                     low->message());
      break;
    case DiskWatermark::Change::kResumed: {
      const auto lowest = std::min_element(
          readings.begin(), readings.end(),
          [](const DiskReading& a, const DiskReading& b) { return a.free_bytes < b.free_bytes; });
      spdlog::info(
          "disk space is back: the file system of {} has {} free, at least {}; writes are "
          "accepted again and compaction resumes",
          lowest->path, DiskWatermark::human_bytes(lowest->free_bytes),
          DiskWatermark::human_bytes(watermark_.resume_free_bytes()));
      break;
    }
    case DiskWatermark::Change::kNone:
      break;
  }
  refused_.set(watermark_.refusing() ? 1 : 0);
}

}  // namespace metricsd::server
