// Watches NVML's event set for XID errors (the driver's reports of GPU faults) on a thread
// of its own, so an XID between two collections is not missed. Each XID is counted per
// (gpu, code), the source of gpu.xid_errors_total, so a repeat of the same XID is not lost
// even when its events are, and queued (at most kMaxPending, oldest shed and counted) for
// the next heartbeat's `events` as type `gpu_xid`.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/agent/nvml_library.hpp"
#include "tools/agent/sample.hpp"

namespace metricsd::tools {

struct XidEvent {
  std::string gpu;  // the GPU's label (its index)
  unsigned long long code = 0;
  int64_t ts_ms = 0;
  std::string mig;  // the GPU instance id when the driver attributes it to one, else ""

  // {"type": "gpu_xid", "ts": <unix s>, "data": {"gpu", "code", "description"[, "mig"]}}
  nlohmann::json to_event() const;
};

class XidWatcher {
 public:
  static constexpr size_t kMaxPending = 1000;

  // Registers each GPU for XID events; those that cannot be (no support, no permission)
  // are said in the notices. Starts the thread when at least one GPU is registered.
  XidWatcher(NvmlLibrary& lib, const std::vector<std::pair<nvml::Device, std::string>>& gpus);
  ~XidWatcher();  // stops (within one wait, 200 ms) and frees the set
  XidWatcher(const XidWatcher&) = delete;
  XidWatcher& operator=(const XidWatcher&) = delete;

  bool watching() const { return thread_.joinable(); }

  // gpu.xid_errors_total{gpu, code} for every code seen since the agent started.
  std::vector<Sample> counters(int64_t ts_ms) const;
  // The events not yet handed out, oldest first.
  std::vector<XidEvent> take_events();
  std::vector<std::string> take_notices();
  uint64_t shed() const;

 private:
  void run();
  void note(std::string text);

  NvmlLibrary& lib_;
  nvml::EventSet set_ = nullptr;
  std::map<nvml::Device, std::string> labels_;  // constant once the thread runs
  mutable std::mutex mu_;                       // guards everything below
  std::condition_variable cv_;
  bool stop_ = false;
  std::map<std::pair<std::string, unsigned long long>, uint64_t> counts_;
  std::deque<XidEvent> pending_;
  std::vector<std::string> notices_;
  uint64_t shed_ = 0;
  std::thread thread_;
};

}  // namespace metricsd::tools
