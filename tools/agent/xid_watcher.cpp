// The XID event thread (see xid_watcher.hpp).
#include "tools/agent/xid_watcher.hpp"

#include <chrono>

#include "core/clock.hpp"
#include "tools/agent/xid_codes.hpp"

namespace metricsd::tools {

nlohmann::json XidEvent::to_event() const {
  nlohmann::json data = {{"gpu", gpu}, {"code", code}};
  if (auto d = xid_description(code); !d.empty()) data["description"] = d;
  if (!mig.empty()) data["mig"] = mig;
  return {{"type", "gpu_xid"}, {"ts", static_cast<double>(ts_ms) / 1000.0}, {"data", data}};
}

XidWatcher::XidWatcher(NvmlLibrary& lib,
                       const std::vector<std::pair<nvml::Device, std::string>>& gpus)
    : lib_(lib) {
  if (!lib_.event_set_create || !lib_.register_events || !lib_.event_set_wait ||
      !lib_.event_set_free) {
    note(
        "XID errors: this NVML has no event API; gpu.xid_errors_total and gpu_xid events left out");
    return;
  }
  if (nvml::Return r = lib_.event_set_create(&set_); r != nvml::kSuccess) {
    note("XID errors: NVML could not create an event set (" + lib_.error_string(r) +
         "); gpu.xid_errors_total and gpu_xid events left out");
    set_ = nullptr;
    return;
  }
  for (const auto& [dev, label] : gpus) {
    nvml::Return r = lib_.register_events(dev, nvml::kEventTypeXidCriticalError, set_);
    if (r == nvml::kSuccess)
      labels_[dev] = label;
    else
      note("GPU " + label + ": XID errors cannot be watched (" + lib_.error_string(r) +
           "); left out");
  }
  if (!labels_.empty()) thread_ = std::thread([this] { run(); });
}

XidWatcher::~XidWatcher() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (set_) lib_.event_set_free(set_);
}

void XidWatcher::run() {
  bool failing = false;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
    nvml::EventData data{};
    const nvml::Return r = lib_.event_set_wait(set_, &data, 200);
    if (r == nvml::kErrorTimeout) continue;
    if (r != nvml::kSuccess) {
      // A driver error: said once, then waited out (1 s) instead of spinning.
      if (!failing)
        note("XID errors: waiting for NVML events failed (" + lib_.error_string(r) + ")");
      failing = true;
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stop_; });
      continue;
    }
    if (failing) note("XID errors: NVML events work again");
    failing = false;
    if (!(data.eventType & nvml::kEventTypeXidCriticalError)) continue;
    auto it = labels_.find(data.device);
    XidEvent e{it == labels_.end() ? "?" : it->second, data.eventData, wall_ms(), ""};
    if (data.gpuInstanceId != 0xFFFFFFFFu) e.mig = std::to_string(data.gpuInstanceId);
    std::lock_guard lock(mu_);
    ++counts_[{e.gpu, e.code}];
    if (pending_.size() >= kMaxPending) {
      pending_.pop_front();
      ++shed_;
    }
    pending_.push_back(std::move(e));
  }
}

std::vector<Sample> XidWatcher::counters(int64_t ts_ms) const {
  std::lock_guard lock(mu_);
  std::vector<Sample> out;
  for (const auto& [key, n] : counts_)
    out.push_back({"gpu.xid_errors_total",
                   {{"gpu", key.first}, {"code", std::to_string(key.second)}},
                   static_cast<double>(n),
                   ts_ms,
                   ""});
  return out;
}

std::vector<XidEvent> XidWatcher::take_events() {
  std::lock_guard lock(mu_);
  std::vector<XidEvent> out(pending_.begin(), pending_.end());
  pending_.clear();
  return out;
}

std::vector<std::string> XidWatcher::take_notices() {
  std::lock_guard lock(mu_);
  return std::exchange(notices_, {});
}

uint64_t XidWatcher::shed() const {
  std::lock_guard lock(mu_);
  return shed_;
}

void XidWatcher::note(std::string text) {
  std::lock_guard lock(mu_);
  notices_.push_back(std::move(text));
}

}  // namespace metricsd::tools
