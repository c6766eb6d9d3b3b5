// Temperatures from sysfs under a configurable root: every
// class/thermal/thermal_zone*/temp (label zone=<zone dir>, type=<its type file>) and every
// class/hwmon/hwmon*/temp*_input (label sensor=<hwmon name>/<temp*_label or tempN>), as
// system.temp_c samples. Unreadable or malformed files are skipped.
#pragma once

#include <filesystem>
#include <vector>

#include "tools/agent/sample.hpp"

namespace metricsd::tools {

std::vector<Sample> read_sysfs_temps(const std::filesystem::path& sys_root, int64_t ts_ms);

// The whole (small) file, or "" when it cannot be read; reads at most max_bytes.
std::string read_small_file(const std::filesystem::path& path, size_t max_bytes = 1 << 20);

}  // namespace metricsd::tools
