// The disk watermark; see disk_watermark.hpp.
#include "core/disk_watermark.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace metricsd {

std::string DiskShortage::message() const {
  return fmt::format(
      "not enough disk space: the file system of {} has {} free ({} bytes), below "
      "disk.min_free_bytes {} ({} bytes); writes resume once {} are free",
      path, DiskWatermark::human_bytes(free_bytes), free_bytes,
      DiskWatermark::human_bytes(min_free_bytes), min_free_bytes,
      DiskWatermark::human_bytes(resume_free_bytes));
}

// The resume mark: a quarter above the minimum, so the few megabytes a checkpoint or a
// retention drop gives back do not let writes in only to refuse them again at once.
DiskWatermark::DiskWatermark(int64_t min_free_bytes)
    : min_free_(min_free_bytes), resume_free_(min_free_bytes + min_free_bytes / 4) {}

DiskWatermark::Change DiskWatermark::observe(std::span<const DiskReading> readings) {
  if (readings.empty() || min_free_ <= 0) return Change::kNone;
  const auto lowest = std::min_element(
      readings.begin(), readings.end(),
      [](const DiskReading& a, const DiskReading& b) { return a.free_bytes < b.free_bytes; });
  const bool was = refusing();
  const bool now = was ? lowest->free_bytes < resume_free_ : lowest->free_bytes < min_free_;
  {
    std::lock_guard lock(mu_);
    if (now)
      shortage_ = DiskShortage{lowest->path, lowest->free_bytes, min_free_, resume_free_};
    else
      shortage_.reset();
  }
  refusing_.store(now, std::memory_order_release);
  if (now == was) return Change::kNone;
  return now ? Change::kRefusing : Change::kResumed;
}

std::optional<DiskShortage> DiskWatermark::shortage() const {
  std::lock_guard lock(mu_);
  return shortage_;
}

std::string DiskWatermark::human_bytes(int64_t bytes) {
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double v = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (v >= 1024 && unit + 1 < std::size(kUnits)) {
    v /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", v, kUnits[unit]);
}

}  // namespace metricsd
