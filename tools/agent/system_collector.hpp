// What the agent measures on its own machine each interval: CPU (from /proc/stat deltas),
// load, memory and swap, disk usage per mount (statvfs) and I/O per device (diskstats
// deltas), network per interface (net/dev deltas), sysfs temperatures, and GPUs through
// NVML (nvml_collector.hpp) or, as the fallback, nvidia-smi. Rates need two snapshots, so the first
// collection has none of them. Paths come from the config so tests point them at fixtures; the
// caller passes the clocks so tests control the deltas. Used by one thread.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/agent/gpu_parse.hpp"
#include "tools/agent/nvml_collector.hpp"
#include "tools/agent/proc_parse.hpp"
#include "tools/agent/sample.hpp"

namespace metricsd::tools {

struct CollectorConfig {
  std::filesystem::path proc_root = "/proc", sys_root = "/sys";
  bool per_core = false;          // system.cpu_util{core="N"} as well
  NvmlCollector* nvml = nullptr;  // GPUs through NVML (not owned); else:
  std::string nvidia_smi;         // full path, "" = no GPUs
  std::chrono::milliseconds gpu_timeout{3000};
  bool disk_usage = true;  // statvfs of the mounts (off for fixture roots in tests)
};

struct Collection {
  int64_t ts_ms = 0;
  std::map<std::string, double> unlabelled;  // the heartbeat's `metrics` map
  std::vector<Sample> labelled;              // per device: disk, net, temps, GPUs, cores
  nlohmann::json info;                       // the heartbeat's `info`
  size_t gpu_garbage_lines = 0;
  std::string gpu_error;  // why nvidia-smi gave nothing this time, "" when fine or absent
  std::vector<std::string> gpu_notices;  // NVML: fields left out, GPUs lost (each said once)
  nlohmann::json events = nlohmann::json::array();  // node events for the heartbeat

  // The unlabelled metrics as timestamped samples (for the buffer when the heartbeat
  // could not be delivered).
  std::vector<Sample> all_samples_unlabelled() const;
};

class SystemCollector {
 public:
  explicit SystemCollector(CollectorConfig config);

  // `now_ms` stamps the samples; `mono_s` (a monotonic clock) measures the deltas.
  Collection collect(int64_t now_ms, double mono_s);

  // The heartbeat's `info`: cpu model and cores, memory total, GPUs seen last.
  nlohmann::json info() const;

 private:
  void collect_cpu(Collection& c, double dt);
  void collect_disks(Collection& c, double dt);
  void collect_net(Collection& c, double dt);
  void collect_gpus(Collection& c, double mono_s);

  CollectorConfig config_;
  std::optional<double> last_mono_s_;
  std::optional<CpuStat> last_cpu_;
  std::map<std::string, DiskCounters> last_disks_;
  std::map<std::string, NetCounters> last_net_;
  CpuInfo cpu_info_;
  double mem_total_kb_ = 0;
  std::vector<GpuReading> gpus_;
  nlohmann::json gpu_processes_ = nlohmann::json::array();  // NVML: the top processes
};

}  // namespace metricsd::tools
