// The parser of `nvidia-smi --query-gpu=<kGpuQueryFields> --format=csv,noheader,nounits`
// output and its mapping to gpu.* samples (label `gpu` = the index). Fields nvidia-smi
// cannot report ("[N/A]", "[Not Supported]", "N/A", empty) are left out; lines that are not
// one GPU's row are skipped and counted.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tools/agent/sample.hpp"

namespace metricsd::tools {

inline constexpr const char* kGpuQueryFields =
    "index,name,utilization.gpu,temperature.gpu,memory.used,memory.total,power.draw,clocks.sm,"
    "clocks.mem";

struct GpuReading {
  std::string index, name;
  std::optional<double> util_pct, temp_c, mem_used_mb, mem_total_mb, power_w, clock_sm_mhz,
      clock_mem_mhz;
};

struct GpuParseResult {
  std::vector<GpuReading> gpus;
  size_t garbage_lines = 0;  // non-empty lines that were not a GPU row
};

GpuParseResult parse_nvidia_smi(std::string_view text);

// gpu.util, gpu.temp_c, gpu.mem_used_mb, gpu.mem_total_mb, gpu.mem_used_pct, gpu.power_w,
// gpu.clock_sm_mhz, gpu.clock_mem_mhz for each reading, labelled {gpu="<index>"}.
std::vector<Sample> gpu_samples(const std::vector<GpuReading>& gpus, int64_t ts_ms);

}  // namespace metricsd::tools
