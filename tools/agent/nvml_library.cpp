// Loading NVML (see nvml_library.hpp).
#include "tools/agent/nvml_library.hpp"

#include <dlfcn.h>

namespace metricsd::tools {
namespace {

template <typename Fn>
void bind(void* lib, const char* symbol, Fn& out) {
  out = reinterpret_cast<Fn>(::dlsym(lib, symbol));
}

}  // namespace

std::unique_ptr<NvmlLibrary> NvmlLibrary::open(const std::string& path, std::string& error) {
  std::unique_ptr<NvmlLibrary> lib(new NvmlLibrary());
  lib->path_ = path;
  lib->handle_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib->handle_) {
    const char* why = ::dlerror();  // names the path
    error = why ? why : path + ": dlopen failed";
    return nullptr;
  }
  void* h = lib->handle_;
  bind(h, "nvmlInit_v2", lib->init);
  bind(h, "nvmlShutdown", lib->shutdown);
  bind(h, "nvmlDeviceGetCount_v2", lib->device_count);
  bind(h, "nvmlDeviceGetHandleByIndex_v2", lib->handle_by_index);
  for (auto [fn, symbol] : {std::pair<bool, const char*>{lib->init != nullptr, "nvmlInit_v2"},
                            {lib->shutdown != nullptr, "nvmlShutdown"},
                            {lib->device_count != nullptr, "nvmlDeviceGetCount_v2"},
                            {lib->handle_by_index != nullptr, "nvmlDeviceGetHandleByIndex_v2"}}) {
    if (!fn) {
      error = path + " has no " + symbol + " (not NVML, or an NVML older than driver 325)";
      return nullptr;
    }
  }
  bind(h, "nvmlErrorString", lib->error_text);
  bind(h, "nvmlDeviceGetName", lib->name);
  bind(h, "nvmlDeviceGetUUID", lib->uuid);
  bind(h, "nvmlDeviceGetVbiosVersion", lib->vbios);
  bind(h, "nvmlSystemGetDriverVersion", lib->driver_version);
  bind(h, "nvmlSystemGetCudaDriverVersion_v2", lib->cuda_version);
  bind(h, "nvmlDeviceGetComputeMode", lib->compute_mode);
  bind(h, "nvmlDeviceGetPerformanceState", lib->performance_state);
  bind(h, "nvmlDeviceGetMigMode", lib->mig_mode);
  bind(h, "nvmlDeviceGetPowerManagementLimit", lib->power_management_limit);
  bind(h, "nvmlDeviceGetEnforcedPowerLimit", lib->enforced_power_limit);
  bind(h, "nvmlDeviceGetPowerUsage", lib->power_usage);
  bind(h, "nvmlDeviceGetCurrPcieLinkGeneration", lib->pcie_link_gen);
  bind(h, "nvmlDeviceGetCurrPcieLinkWidth", lib->pcie_link_width);
  bind(h, "nvmlDeviceGetMaxMigDeviceCount", lib->max_mig_devices);
  bind(h, "nvmlDeviceGetGpuInstanceId", lib->gpu_instance_id);
  bind(h, "nvmlDeviceGetComputeInstanceId", lib->compute_instance_id);
  bind(h, "nvmlDeviceGetTotalEnergyConsumption", lib->total_energy);
  // Renamed in CUDA 12.2; drivers export both, older ones only the first.
  bind(h, "nvmlDeviceGetCurrentClocksEventReasons", lib->clock_event_reasons);
  if (!lib->clock_event_reasons)
    bind(h, "nvmlDeviceGetCurrentClocksThrottleReasons", lib->clock_event_reasons);
  bind(h, "nvmlDeviceGetSupportedEventTypes", lib->supported_event_types);
  bind(h, "nvmlDeviceGetClockInfo", lib->clock);
  bind(h, "nvmlDeviceGetMaxClockInfo", lib->max_clock);
  bind(h, "nvmlDeviceGetTemperature", lib->temperature);
  bind(h, "nvmlDeviceGetUtilizationRates", lib->utilization);
  bind(h, "nvmlDeviceGetEncoderUtilization", lib->encoder_util);
  bind(h, "nvmlDeviceGetDecoderUtilization", lib->decoder_util);
  bind(h, "nvmlDeviceGetMemoryInfo", lib->memory);
  bind(h, "nvmlDeviceGetMemoryInfo_v2", lib->memory_v2);
  bind(h, "nvmlDeviceGetViolationStatus", lib->violation);
  bind(h, "nvmlDeviceGetTotalEccErrors", lib->ecc);
  bind(h, "nvmlDeviceGetRemappedRows", lib->remapped_rows);
  bind(h, "nvmlDeviceGetRetiredPages", lib->retired_pages);
  bind(h, "nvmlDeviceGetPcieThroughput", lib->pcie_throughput);
  bind(h, "nvmlDeviceGetFieldValues", lib->field_values);
  bind(h, "nvmlDeviceGetComputeRunningProcesses_v3", lib->compute_processes);
  bind(h, "nvmlDeviceGetGraphicsRunningProcesses_v3", lib->graphics_processes);
  bind(h, "nvmlSystemGetProcessName", lib->process_name);
  bind(h, "nvmlDeviceGetMigDeviceHandleByIndex", lib->mig_device);
  bind(h, "nvmlEventSetCreate", lib->event_set_create);
  bind(h, "nvmlDeviceRegisterEvents", lib->register_events);
  bind(h, "nvmlEventSetWait_v2", lib->event_set_wait);
  bind(h, "nvmlEventSetFree", lib->event_set_free);

  const nvml::Return r = lib->init();
  if (r != nvml::kSuccess) {
    error = path + ": nvmlInit: " + lib->error_string(r);
    return nullptr;
  }
  lib->initialised_ = true;
  return lib;
}

NvmlLibrary::~NvmlLibrary() {
  if (initialised_) shutdown();
  if (handle_) ::dlclose(handle_);
}

std::string NvmlLibrary::error_string(nvml::Return r) const {
  const char* text = error_text ? error_text(r) : nullptr;
  return text ? std::string(text) : "NVML error " + std::to_string(r);
}

}  // namespace metricsd::tools
