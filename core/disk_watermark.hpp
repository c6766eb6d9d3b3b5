// DiskWatermark: whether the file systems the database lives on have room for more data.
// Fed one round of free-space readings at a time (server/disk_watch takes them), it turns
// to refusing when any file system has less than `min_free_bytes` free, and back only once
// every one has `resume_free_bytes` free again (1.25 × the minimum), so a disk hovering at
// the mark does not flap. While refusing, sample writes are answered 507, /readyz 503, and
// compaction waits; what they say is shortage(). Pure logic, no I/O.
//
// Threads: observe() from one thread (the watcher); refusing() and shortage() from any.
// refusing_ is atomic; shortage_ is guarded by mu_; the limits are constant.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>

namespace metricsd {

// The free space of the file system holding `path`, available to unprivileged users
// (PostgreSQL runs as one): statvfs's f_bavail × f_frsize.
struct DiskReading {
  std::string path;
  int64_t free_bytes = 0;
};

// Why writes are refused: the file system with the least room, and the marks.
struct DiskShortage {
  std::string path;
  int64_t free_bytes = 0;
  int64_t min_free_bytes = 0;
  int64_t resume_free_bytes = 0;
  // One line naming the disk and the figures, for answers and the log.
  std::string message() const;
};

class DiskWatermark {
 public:
  // 0 never refuses (readings are still taken for /metrics).
  explicit DiskWatermark(int64_t min_free_bytes);

  enum class Change { kNone, kRefusing, kResumed };
  // One round of readings, one per watched file system (none: no change).
  Change observe(std::span<const DiskReading> readings);

  bool refusing() const { return refusing_.load(std::memory_order_acquire); }
  // While refusing, why (with the latest figures); nullopt otherwise.
  std::optional<DiskShortage> shortage() const;
  int64_t min_free_bytes() const { return min_free_; }
  int64_t resume_free_bytes() const { return resume_free_; }

  // "1.5 GiB", "512.0 MiB", "900 B": sizes for people, beside the exact bytes.
  static std::string human_bytes(int64_t bytes);

 private:
  const int64_t min_free_;
  const int64_t resume_free_;
  std::atomic<bool> refusing_{false};
  mutable std::mutex mu_;  // guards shortage_
  std::optional<DiskShortage> shortage_;
};

}  // namespace metricsd
