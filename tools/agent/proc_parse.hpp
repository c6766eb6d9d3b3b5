// Pure parsers of the /proc files the agent reads (stat, loadavg, meminfo, mounts,
// diskstats, net/dev, cpuinfo) and the rate arithmetic between two snapshots. They take the
// file's text and never touch the file system, so tests feed them recorded fixtures.
// Malformed or truncated lines are skipped (and counted where a caller cares), never fatal.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd::tools {

// Jiffies of one "cpu" line of /proc/stat.
struct CpuTimes {
  uint64_t busy = 0;  // user + nice + system + irq + softirq + steal
  uint64_t idle = 0;  // idle + iowait
};
struct CpuStat {
  CpuTimes total;
  std::vector<CpuTimes> cores;  // indexed by the N of "cpuN"
};
// nullopt when the text has no well-formed aggregate "cpu" line.
std::optional<CpuStat> parse_proc_stat(std::string_view text);
// Busy share in percent between two readings; nullopt when no time passed or a counter
// went backwards.
std::optional<double> cpu_util_pct(const CpuTimes& before, const CpuTimes& after);

std::optional<std::array<double, 3>> parse_loadavg(std::string_view text);

struct MemStats {
  double mem_total_kb = 0, mem_available_kb = 0, swap_total_kb = 0, swap_free_kb = 0;
};
// nullopt without MemTotal. MemAvailable falls back to MemFree + Buffers + Cached (old kernels).
std::optional<MemStats> parse_meminfo(std::string_view text);

struct Mount {
  std::string device, mount_point, fs_type;
};
// Block-device-backed file systems (the device is a path, the type not a pseudo file
// system) and the root whatever backs it, first mount of each mount point; octal escapes
// (\040) decoded.
std::vector<Mount> parse_mounts(std::string_view text);

struct DiskCounters {
  uint64_t sectors_read = 0, sectors_written = 0;
};
// Keyed by device name; loop, ram and zram devices and partitions of listed disks are left
// out.
std::map<std::string, DiskCounters> parse_diskstats(std::string_view text);

struct NetCounters {
  uint64_t rx_bytes = 0, tx_bytes = 0;
};
// Keyed by interface; the loopback interface is left out.
std::map<std::string, NetCounters> parse_net_dev(std::string_view text);

// (after - before) / seconds; nullopt when seconds <= 0 or the counter went backwards
// (a reset or a wrap: skip one interval rather than report nonsense).
std::optional<double> counter_rate(uint64_t before, uint64_t after, double seconds);

struct CpuInfo {
  std::string model;  // "model name", else "Model" (Raspberry Pi), else "Hardware"
  int cores = 0;      // "processor" entries
};
CpuInfo parse_cpuinfo(std::string_view text);

// A sysfs temperature file (millidegrees Celsius) in degrees; nullopt unless it is one
// integer within -100..200 °C.
std::optional<double> parse_millidegrees(std::string_view text);

// Lines of `text`, without their '\n'.
std::vector<std::string_view> split_lines(std::string_view text);
// Whitespace-separated fields of one line.
std::vector<std::string_view> split_fields(std::string_view line);
std::optional<uint64_t> parse_u64(std::string_view s);
std::optional<double> parse_double(std::string_view s);

}  // namespace metricsd::tools
