// NVML loaded at run time: dlopen() of libnvidia-ml.so.1 (or the path given), the symbols
// of nvml_api.hpp resolved, nvmlInit_v2 called. The agent holds one per process; it is
// shared by the collection loop and the XID watcher thread (NVML is thread-safe). A
// function the library lacks (an older driver) stays null and its fields are left out.
#pragma once

#include <memory>
#include <string>

#include "tools/agent/nvml_api.hpp"

namespace metricsd::tools {

inline constexpr const char* kDefaultNvmlLibrary = "libnvidia-ml.so.1";

class NvmlLibrary {
 public:
  // Loads `path` and initialises NVML. nullptr with `error` saying why (no such library,
  // a required symbol missing, nvmlInit failing: no driver, no permission).
  static std::unique_ptr<NvmlLibrary> open(const std::string& path, std::string& error);

  ~NvmlLibrary();  // nvmlShutdown, dlclose
  NvmlLibrary(const NvmlLibrary&) = delete;
  NvmlLibrary& operator=(const NvmlLibrary&) = delete;

  // NVML's text for a return code, or "NVML error N".
  std::string error_string(nvml::Return r) const;

  // Required (open fails without them).
  nvml::InitFn init = nullptr;
  nvml::ShutdownFn shutdown = nullptr;
  nvml::DeviceGetCountFn device_count = nullptr;
  nvml::DeviceGetHandleByIndexFn handle_by_index = nullptr;
  // Optional.
  nvml::ErrorStringFn error_text = nullptr;
  nvml::DeviceGetStringFn name = nullptr, uuid = nullptr, vbios = nullptr;
  nvml::SystemGetStringFn driver_version = nullptr;
  nvml::SystemGetCudaVersionFn cuda_version = nullptr;
  nvml::DeviceGetIntEnumFn compute_mode = nullptr, performance_state = nullptr;
  nvml::DeviceGetMigModeFn mig_mode = nullptr;
  nvml::DeviceGetUintFn power_management_limit = nullptr, enforced_power_limit = nullptr,
                        power_usage = nullptr, pcie_link_gen = nullptr, pcie_link_width = nullptr,
                        max_mig_devices = nullptr, gpu_instance_id = nullptr,
                        compute_instance_id = nullptr;
  nvml::DeviceGetUllFn total_energy = nullptr, clock_event_reasons = nullptr,
                       supported_event_types = nullptr;
  nvml::DeviceGetClockFn clock = nullptr, max_clock = nullptr;
  nvml::DeviceGetTemperatureFn temperature = nullptr;
  nvml::DeviceGetUtilizationFn utilization = nullptr;
  nvml::DeviceGetCodecUtilFn encoder_util = nullptr, decoder_util = nullptr;
  nvml::DeviceGetMemoryFn memory = nullptr;
  nvml::DeviceGetMemoryV2Fn memory_v2 = nullptr;
  nvml::DeviceGetViolationFn violation = nullptr;
  nvml::DeviceGetEccFn ecc = nullptr;
  nvml::DeviceGetRemappedRowsFn remapped_rows = nullptr;
  nvml::DeviceGetRetiredPagesFn retired_pages = nullptr;
  nvml::DeviceGetPcieThroughputFn pcie_throughput = nullptr;
  nvml::DeviceGetFieldValuesFn field_values = nullptr;
  nvml::DeviceGetProcessesFn compute_processes = nullptr, graphics_processes = nullptr;
  nvml::SystemGetProcessNameFn process_name = nullptr;
  nvml::DeviceGetMigDeviceFn mig_device = nullptr;
  nvml::EventSetCreateFn event_set_create = nullptr;
  nvml::DeviceRegisterEventsFn register_events = nullptr;
  nvml::EventSetWaitFn event_set_wait = nullptr;
  nvml::EventSetFreeFn event_set_free = nullptr;

  const std::string& path() const { return path_; }

 private:
  NvmlLibrary() = default;
  void* handle_ = nullptr;
  bool initialised_ = false;
  std::string path_;
};

}  // namespace metricsd::tools
