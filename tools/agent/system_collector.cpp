// The agent's machine measurements (see system_collector.hpp).
#include "tools/agent/system_collector.hpp"

#include <sys/statvfs.h>

#include "tools/agent/command_runner.hpp"
#include "tools/agent/sysfs_temps.hpp"

namespace metricsd::tools {

std::vector<Sample> Collection::all_samples_unlabelled() const {
  std::vector<Sample> out;
  for (const auto& [metric, value] : unlabelled)
    out.push_back({metric, {}, value, ts_ms, ""});
  return out;
}

SystemCollector::SystemCollector(CollectorConfig config) : config_(std::move(config)) {
  cpu_info_ = parse_cpuinfo(read_small_file(config_.proc_root / "cpuinfo"));
}

Collection SystemCollector::collect(int64_t now_ms, double mono_s) {
  Collection c;
  c.ts_ms = now_ms;
  const double dt = last_mono_s_ ? mono_s - *last_mono_s_ : 0;
  last_mono_s_ = mono_s;

  collect_cpu(c, dt);
  if (auto load = parse_loadavg(read_small_file(config_.proc_root / "loadavg", 4096))) {
    c.unlabelled["system.load1"] = (*load)[0];
    c.unlabelled["system.load5"] = (*load)[1];
    c.unlabelled["system.load15"] = (*load)[2];
  }
  if (auto mem = parse_meminfo(read_small_file(config_.proc_root / "meminfo"))) {
    mem_total_kb_ = mem->mem_total_kb;
    const double used = mem->mem_total_kb - mem->mem_available_kb;
    c.unlabelled["system.mem_used_pct"] = 100.0 * used / mem->mem_total_kb;
    c.unlabelled["system.mem_used_mb"] = used / 1024.0;
    c.unlabelled["system.mem_total_mb"] = mem->mem_total_kb / 1024.0;
    if (mem->swap_total_kb > 0)
      c.unlabelled["system.swap_used_pct"] =
          100.0 * (mem->swap_total_kb - mem->swap_free_kb) / mem->swap_total_kb;
    else
      c.unlabelled["system.swap_used_pct"] = 0;
  }
  collect_disks(c, dt);
  collect_net(c, dt);
  auto temps = read_sysfs_temps(config_.sys_root, now_ms);
  c.labelled.insert(c.labelled.end(), temps.begin(), temps.end());
  collect_gpus(c, mono_s);
  c.info = info();
  return c;
}

void SystemCollector::collect_cpu(Collection& c, double dt) {
  auto cpu = parse_proc_stat(read_small_file(config_.proc_root / "stat"));
  if (!cpu) return;
  if (last_cpu_ && dt > 0) {
    if (auto u = cpu_util_pct(last_cpu_->total, cpu->total)) c.unlabelled["system.cpu_util"] = *u;
    if (config_.per_core) {
      for (size_t i = 0; i < cpu->cores.size() && i < last_cpu_->cores.size(); ++i)
        if (auto u = cpu_util_pct(last_cpu_->cores[i], cpu->cores[i]))
          c.labelled.push_back({"system.cpu_util", {{"core", std::to_string(i)}}, *u, c.ts_ms, ""});
    }
  }
  last_cpu_ = std::move(cpu);
}

void SystemCollector::collect_disks(Collection& c, double dt) {
  if (config_.disk_usage) {
    for (const auto& m : parse_mounts(read_small_file(config_.proc_root / "mounts"))) {
      // Containers bind-mount single files (/etc/hosts): not a file system of their own.
      std::error_code ec;
      if (!std::filesystem::is_directory(m.mount_point, ec)) continue;
      struct statvfs st {};
      if (::statvfs(m.mount_point.c_str(), &st) != 0 || st.f_blocks == 0) continue;
      const double total = static_cast<double>(st.f_blocks) * st.f_frsize;
      const double avail = static_cast<double>(st.f_bavail) * st.f_frsize;
      const double free = static_cast<double>(st.f_bfree) * st.f_frsize;
      // Like df: used / (used + available to users).
      const double used = total - free;
      if (used + avail <= 0) continue;
      c.labelled.push_back({"disk.used_pct",
                            {{"mount", m.mount_point}},
                            100.0 * used / (used + avail),
                            c.ts_ms,
                            ""});
      c.labelled.push_back({"disk.free_gb", {{"mount", m.mount_point}}, avail / 1e9, c.ts_ms, ""});
    }
  }
  auto disks = parse_diskstats(read_small_file(config_.proc_root / "diskstats"));
  for (const auto& [dev, now] : disks) {
    auto prev = last_disks_.find(dev);
    if (prev == last_disks_.end()) continue;
    // diskstats counts 512-byte sectors whatever the device's sector size.
    if (auto r = counter_rate(prev->second.sectors_read, now.sectors_read, dt))
      c.labelled.push_back({"disk.read_bytes_per_s", {{"device", dev}}, *r * 512, c.ts_ms, ""});
    if (auto w = counter_rate(prev->second.sectors_written, now.sectors_written, dt))
      c.labelled.push_back({"disk.write_bytes_per_s", {{"device", dev}}, *w * 512, c.ts_ms, ""});
  }
  last_disks_ = std::move(disks);
}

void SystemCollector::collect_net(Collection& c, double dt) {
  auto net = parse_net_dev(read_small_file(config_.proc_root / "net/dev"));
  for (const auto& [iface, now] : net) {
    auto prev = last_net_.find(iface);
    if (prev == last_net_.end()) continue;
    if (auto r = counter_rate(prev->second.rx_bytes, now.rx_bytes, dt))
      c.labelled.push_back({"net.rx_bytes_per_s", {{"iface", iface}}, *r, c.ts_ms, ""});
    if (auto t = counter_rate(prev->second.tx_bytes, now.tx_bytes, dt))
      c.labelled.push_back({"net.tx_bytes_per_s", {{"iface", iface}}, *t, c.ts_ms, ""});
  }
  last_net_ = std::move(net);
}

void SystemCollector::collect_gpus(Collection& c, double mono_s) {
  if (config_.nvml) {
    NvmlReading r = config_.nvml->collect(c.ts_ms, mono_s);
    gpu_processes_ = nlohmann::json::array();
    for (const auto& s : r.samples)
      if (s.metric == "gpu.process_mem_mb")
        gpu_processes_.push_back({{"gpu", s.labels.at("gpu")},
                                  {"pid", std::stoll(s.labels.at("pid"))},
                                  {"process", s.labels.at("process")},
                                  {"mem_mb", s.value}});
    c.labelled.insert(c.labelled.end(), std::make_move_iterator(r.samples.begin()),
                      std::make_move_iterator(r.samples.end()));
    c.gpu_notices = std::move(r.notices);
    if (r.gpus > 0) c.unlabelled["gpu.count"] = static_cast<double>(r.gpus);
    return;
  }
  if (config_.nvidia_smi.empty()) return;
  CommandSpec spec;
  spec.argv = {config_.nvidia_smi, std::string("--query-gpu=") + kGpuQueryFields,
               "--format=csv,noheader,nounits"};
  spec.timeout = config_.gpu_timeout;
  spec.max_output_bytes = 256 * 1024;
  auto r = run_command(spec);
  if (!r.ok()) {
    c.gpu_error = !r.started    ? r.error
                  : r.timed_out ? "timed out"
                                : "exit code " + std::to_string(r.exit_code);
    return;
  }
  auto parsed = parse_nvidia_smi(r.out);
  c.gpu_garbage_lines = parsed.garbage_lines;
  auto samples = gpu_samples(parsed.gpus, c.ts_ms);
  c.labelled.insert(c.labelled.end(), samples.begin(), samples.end());
  if (!parsed.gpus.empty()) {
    c.unlabelled["gpu.count"] = static_cast<double>(parsed.gpus.size());
    gpus_ = std::move(parsed.gpus);
  }
}

nlohmann::json SystemCollector::info() const {
  nlohmann::json gpus = nlohmann::json::array();
  if (config_.nvml) {
    gpus = config_.nvml->gpus_info();
  } else {
    for (const auto& g : gpus_) {
      nlohmann::json one = {{"index", g.index}, {"name", g.name}};
      if (g.mem_total_mb) one["vram_mb"] = *g.mem_total_mb;
      gpus.push_back(std::move(one));
    }
  }
  nlohmann::json out = {{"cpu_model", cpu_info_.model},
                        {"cpu_cores", cpu_info_.cores},
                        {"mem_total_mb", mem_total_kb_ / 1024.0},
                        {"gpus", std::move(gpus)},
                        {"agent", "metricsd-agent"}};
  if (config_.nvml) {
    out["gpu_source"] = "nvml";
    if (!config_.nvml->driver_version().empty()) out["gpu_driver"] = config_.nvml->driver_version();
    if (!config_.nvml->cuda_version().empty()) out["cuda_version"] = config_.nvml->cuda_version();
    out["gpu_processes"] = gpu_processes_;
  } else if (!config_.nvidia_smi.empty()) {
    out["gpu_source"] = "nvidia-smi";
  }
  return out;
}

}  // namespace metricsd::tools
