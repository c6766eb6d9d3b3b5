// nvidia-smi CSV parsing (see gpu_parse.hpp).
#include "tools/agent/gpu_parse.hpp"

#include "tools/agent/proc_parse.hpp"

namespace metricsd::tools {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_commas(std::string_view line) {
  std::vector<std::string_view> out;
  for (;;) {
    auto c = line.find(',');
    out.push_back(trim(line.substr(0, c)));
    if (c == std::string_view::npos) return out;
    line.remove_prefix(c + 1);
  }
}

}  // namespace

GpuParseResult parse_nvidia_smi(std::string_view text) {
  GpuParseResult out;
  for (auto raw : split_lines(text)) {
    auto line = trim(raw);
    if (line.empty()) continue;
    auto f = split_commas(line);
    // A GPU row has exactly the nine queried fields and starts with its integer index.
    if (f.size() != 9 || !parse_u64(f[0]) || f[1].empty()) {
      ++out.garbage_lines;
      continue;
    }
    GpuReading g;
    g.index = std::string(f[0]);
    g.name = std::string(f[1]);
    std::optional<double>* targets[] = {&g.util_pct,     &g.temp_c,  &g.mem_used_mb,
                                        &g.mem_total_mb, &g.power_w, &g.clock_sm_mhz,
                                        &g.clock_mem_mhz};
    // parse_double refuses "[N/A]", "[Not Supported]", "N/A" and empty fields: left out.
    for (size_t i = 0; i < 7; ++i)
      *targets[i] = parse_double(f[i + 2]);
    out.gpus.push_back(std::move(g));
  }
  return out;
}

std::vector<Sample> gpu_samples(const std::vector<GpuReading>& gpus, int64_t ts_ms) {
  std::vector<Sample> out;
  for (const auto& g : gpus) {
    auto add = [&](const char* metric, const std::optional<double>& v) {
      if (v) out.push_back({metric, {{"gpu", g.index}}, *v, ts_ms, ""});
    };
    add("gpu.util", g.util_pct);
    add("gpu.temp_c", g.temp_c);
    add("gpu.mem_used_mb", g.mem_used_mb);
    add("gpu.mem_total_mb", g.mem_total_mb);
    if (g.mem_used_mb && g.mem_total_mb && *g.mem_total_mb > 0)
      add("gpu.mem_used_pct", 100.0 * *g.mem_used_mb / *g.mem_total_mb);
    add("gpu.power_w", g.power_w);
    add("gpu.clock_sm_mhz", g.clock_sm_mhz);
    add("gpu.clock_mem_mhz", g.clock_mem_mhz);
  }
  return out;
}

}  // namespace metricsd::tools
