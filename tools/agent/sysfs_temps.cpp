// sysfs temperature discovery (see sysfs_temps.hpp).
#include "tools/agent/sysfs_temps.hpp"

#include <algorithm>
#include <fstream>

#include "tools/agent/proc_parse.hpp"

namespace metricsd::tools {
namespace fs = std::filesystem;
namespace {

std::string first_line(const fs::path& p) {
  std::string s = read_small_file(p, 256);
  s = s.substr(0, s.find('\n'));
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r'))
    s.pop_back();
  return s;
}

// Directory entries whose name starts with `prefix`, sorted for a stable order.
std::vector<fs::path> entries(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename().string().rfind(prefix, 0) == 0) out.push_back(it->path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::string read_small_file(const fs::path& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::string out(max_bytes, '\0');
  in.read(out.data(), static_cast<std::streamsize>(max_bytes));
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

std::vector<Sample> read_sysfs_temps(const fs::path& sys_root, int64_t ts_ms) {
  std::vector<Sample> out;
  for (const auto& zone : entries(sys_root / "class/thermal", "thermal_zone")) {
    auto c = parse_millidegrees(read_small_file(zone / "temp", 64));
    if (!c) continue;
    Labels labels{{"zone", zone.filename().string()}};
    if (auto type = first_line(zone / "type"); !type.empty()) labels["type"] = type;
    out.push_back({"system.temp_c", std::move(labels), *c, ts_ms, ""});
  }
  for (const auto& hw : entries(sys_root / "class/hwmon", "hwmon")) {
    std::string name = first_line(hw / "name");
    if (name.empty()) name = hw.filename().string();
    for (const auto& input : entries(hw, "temp")) {
      const std::string file = input.filename().string();
      const auto suffix = file.find("_input");
      if (suffix == std::string::npos || suffix + 6 != file.size()) continue;
      auto c = parse_millidegrees(read_small_file(input, 64));
      if (!c) continue;
      const std::string base = file.substr(0, suffix);  // "temp1"
      std::string label = first_line(hw / (base + "_label"));
      out.push_back({"system.temp_c",
                     {{"sensor", name + "/" + (label.empty() ? base : label)}},
                     *c,
                     ts_ms,
                     ""});
    }
  }
  return out;
}

}  // namespace metricsd::tools
