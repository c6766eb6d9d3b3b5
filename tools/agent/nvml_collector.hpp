// GPU readings through NVML, in-process (no nvidia-smi fork per interval): for each GPU,
// labelled {gpu="<index>"}, its utilization (gpu, memory, encoder, decoder), memory
// (used, total, reserved), GPU and memory (HBM) temperature, power, power limit and the
// energy counter, SM and memory clocks with their maxima, P-state, one 0/1 series per
// clock event (throttle) reason and the cumulative time each limiter held the clocks
// down, ECC counts, remapped rows, retired pages, the PCIe link and its throughput,
// NVLink throughput, the top processes by GPU memory, and per MIG instance its memory (and
// utilization where NVML gives it), labelled {gpu, mig="<GPU instance id>"}.
//
// A field a GPU does not support is left out, never sent as 0, and said once in
// `notices`. A GPU that falls off the bus (NVML_ERROR_GPU_IS_LOST) is said once, sends
// only gpu.lost = 1, and is probed again after 10 s, doubling up to 5 min, not every
// interval. Used by one thread (the collection loop); the library is shared with the XID
// watcher, which NVML allows.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/agent/nvml_library.hpp"
#include "tools/agent/sample.hpp"

namespace metricsd::tools {

struct NvmlCollectorOptions {
  size_t top_processes = 10;  // gpu.process_mem_mb series at most, over the whole node
  double reprobe_min_s = 10, reprobe_max_s = 300;
  std::string proc_root = "/proc";  // process names when NVML cannot give them
};

struct NvmlReading {
  std::vector<Sample> samples;
  size_t gpus = 0;                   // GPUs NVML enumerates (lost ones included)
  std::vector<std::string> notices;  // new since the last collect, each said once
};

class NvmlCollector {
 public:
  // Enumerates the GPUs (their handles are kept for the process's life).
  NvmlCollector(NvmlLibrary& lib, NvmlCollectorOptions options);

  // `mono_s` (a monotonic clock) times the rates and the re-probes.
  NvmlReading collect(int64_t ts_ms, double mono_s);

  // The heartbeat's `info.gpus` entries and the driver's versions (static, read at start
  // and when a lost GPU comes back).
  nlohmann::json gpus_info() const;
  const std::string& driver_version() const { return driver_version_; }
  const std::string& cuda_version() const { return cuda_version_; }

  // Each GPU's handle and label as they are now, for the XID watcher (taken before it
  // starts: the watcher's thread never reads the collector).
  std::vector<std::pair<nvml::Device, std::string>> handles() const;

 private:
  struct Gpu {
    unsigned index = 0;
    std::string label;
    nvml::Device dev = nullptr;
    nlohmann::json info = nlohmann::json::object();
    std::string name;
    bool lost = false;
    double next_probe_s = 0, backoff_s = 0;
    std::set<std::string> said;  // fields already said to be missing
    bool use_memory_v1 = false;
    bool pcie_counters = true;  // cumulative byte counters (fields 197/198) until refused
    std::optional<unsigned long long> pcie_tx, pcie_rx, nvlink_tx, nvlink_rx;
    double counters_at_s = 0;
  };
  struct Proc {
    std::string gpu, pid, name;
    double mib = 0;
  };
  class Lost {};

  void attach(Gpu& g);
  void read_gpu(Gpu& g, int64_t ts, double mono_s, std::vector<Sample>& out,
                std::vector<Proc>& procs);
  void read_memory(Gpu& g, int64_t ts, std::vector<Sample>& out);
  void read_fields(Gpu& g, int64_t ts, double mono_s, std::vector<Sample>& out);
  void read_throttle(Gpu& g, int64_t ts, std::vector<Sample>& out);
  void read_errors(Gpu& g, int64_t ts, std::vector<Sample>& out);
  void read_pcie(Gpu& g, int64_t ts, std::vector<Sample>& out);
  void read_processes(Gpu& g, std::vector<Proc>& procs);
  void read_mig(Gpu& g, int64_t ts, std::vector<Sample>& out);
  void probe(Gpu& g, double mono_s);
  std::string process_name(unsigned pid) const;

  // True on success; otherwise the field is said once (GPU_IS_LOST throws Lost).
  bool ok(Gpu& g, const std::string& field, nvml::Return r);
  bool missing(Gpu& g, const std::string& field, const void* fn);
  void note(std::string text) { notices_.push_back(std::move(text)); }

  NvmlLibrary& lib_;
  NvmlCollectorOptions options_;
  std::vector<Gpu> gpus_;
  std::string driver_version_, cuda_version_;
  std::vector<std::string> notices_;
};

}  // namespace metricsd::tools
