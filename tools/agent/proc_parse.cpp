// The /proc parsers (see proc_parse.hpp).
#include "tools/agent/proc_parse.hpp"

#include <charconv>
#include <cmath>
#include <iterator>
#include <set>

namespace metricsd::tools {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// A cpu line's fields after the name: user nice system idle [iowait irq softirq steal ...].
// Guest time is already inside user/nice, so it is not added again.
std::optional<CpuTimes> cpu_times(const std::vector<std::string_view>& f) {
  if (f.size() < 5) return std::nullopt;
  uint64_t v[8] = {};
  for (size_t i = 1; i < f.size() && i <= 8; ++i) {
    auto n = parse_u64(f[i]);
    if (!n) return std::nullopt;
    v[i - 1] = *n;
  }
  return CpuTimes{v[0] + v[1] + v[2] + v[5] + v[6] + v[7], v[3] + v[4]};
}

// Decodes the \ooo escapes /proc/mounts uses for spaces, tabs and backslashes.
std::string unescape_octal(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      auto d = s.substr(i + 1, 3);
      if (d[0] >= '0' && d[0] <= '3' && d[1] >= '0' && d[1] <= '7' && d[2] >= '0' && d[2] <= '7') {
        out.push_back(static_cast<char>((d[0] - '0') * 64 + (d[1] - '0') * 8 + (d[2] - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    auto nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
      ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
      ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<double> parse_double(std::string_view s) {
  s = trim(s);
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty() || !std::isfinite(v))
    return std::nullopt;
  return v;
}

std::optional<CpuStat> parse_proc_stat(std::string_view text) {
  std::optional<CpuStat> out;
  std::vector<std::optional<CpuTimes>> cores;
  for (auto line : split_lines(text)) {
    if (!starts_with(line, "cpu")) continue;
    auto f = split_fields(line);
    if (f.empty()) continue;
    auto t = cpu_times(f);
    if (!t) continue;
    if (f[0] == "cpu") {
      out.emplace();
      out->total = *t;
    } else if (auto n = parse_u64(f[0].substr(3)); n && *n < 4096) {
      if (cores.size() <= *n) cores.resize(*n + 1);
      cores[*n] = *t;
    }
  }
  if (!out) return std::nullopt;
  // A truncated file may end mid-way through the cores: keep the contiguous prefix.
  for (const auto& c : cores) {
    if (!c) break;
    out->cores.push_back(*c);
  }
  return out;
}

std::optional<double> cpu_util_pct(const CpuTimes& before, const CpuTimes& after) {
  if (after.busy < before.busy || after.idle < before.idle) return std::nullopt;
  const double busy = static_cast<double>(after.busy - before.busy);
  const double idle = static_cast<double>(after.idle - before.idle);
  if (busy + idle <= 0) return std::nullopt;
  return 100.0 * busy / (busy + idle);
}

std::optional<std::array<double, 3>> parse_loadavg(std::string_view text) {
  auto f = split_fields(split_lines(text).empty() ? "" : split_lines(text)[0]);
  if (f.size() < 3) return std::nullopt;
  std::array<double, 3> out{};
  for (size_t i = 0; i < 3; ++i) {
    auto v = parse_double(f[i]);
    if (!v || *v < 0) return std::nullopt;
    out[i] = *v;
  }
  return out;
}

std::optional<MemStats> parse_meminfo(std::string_view text) {
  std::map<std::string_view, double> kb;
  for (auto line : split_lines(text)) {
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    auto f = split_fields(line.substr(colon + 1));
    if (f.empty()) continue;
    if (auto v = parse_u64(f[0])) kb[line.substr(0, colon)] = static_cast<double>(*v);
  }
  auto get = [&](std::string_view k) -> std::optional<double> {
    auto it = kb.find(k);
    return it == kb.end() ? std::nullopt : std::optional(it->second);
  };
  auto total = get("MemTotal");
  if (!total || *total <= 0) return std::nullopt;
  MemStats m;
  m.mem_total_kb = *total;
  if (auto a = get("MemAvailable"))
    m.mem_available_kb = *a;
  else
    m.mem_available_kb =
        get("MemFree").value_or(0) + get("Buffers").value_or(0) + get("Cached").value_or(0);
  m.swap_total_kb = get("SwapTotal").value_or(0);
  m.swap_free_kb = get("SwapFree").value_or(0);
  return m;
}

std::vector<Mount> parse_mounts(std::string_view text) {
  static const std::set<std::string_view> kPseudo = {
      "proc",    "sysfs",    "tmpfs",      "devtmpfs", "devpts",     "cgroup",      "cgroup2",
      "overlay", "squashfs", "autofs",     "mqueue",   "debugfs",    "tracefs",     "securityfs",
      "pstore",  "bpf",      "configfs",   "fusectl",  "hugetlbfs",  "binfmt_misc", "nsfs",
      "ramfs",   "efivarfs", "rpc_pipefs", "nfsd",     "fuse.lxcfs", "selinuxfs"};
  std::vector<Mount> out;
  std::set<std::string> seen;
  for (auto line : split_lines(text)) {
    auto f = split_fields(line);
    if (f.size() < 3) continue;
    // The root is kept whatever backs it (a container's overlay is still its disk).
    const bool block_device = !f[0].empty() && f[0][0] == '/' && !kPseudo.count(f[2]);
    if (!block_device && f[1] != "/") continue;
    Mount m{unescape_octal(f[0]), unescape_octal(f[1]), std::string(f[2])};
    if (m.mount_point.empty() || m.mount_point[0] != '/') continue;
    if (!seen.insert(m.mount_point).second) continue;
    out.push_back(std::move(m));
  }
  return out;
}

std::map<std::string, DiskCounters> parse_diskstats(std::string_view text) {
  std::map<std::string, DiskCounters> out;
  for (auto line : split_lines(text)) {
    // major minor name reads merged sectors_read ms writes merged sectors_written ...
    auto f = split_fields(line);
    if (f.size() < 10) continue;
    const std::string_view name = f[2];
    if (starts_with(name, "loop") || starts_with(name, "ram") || starts_with(name, "zram"))
      continue;
    auto r = parse_u64(f[5]);
    auto w = parse_u64(f[9]);
    if (!r || !w) continue;
    out[std::string(name)] = {*r, *w};
  }
  // Partitions (sda1, nvme0n1p2, mmcblk0p1) are already inside their disk's counters.
  for (auto it = out.begin(); it != out.end();) {
    bool partition = false;
    for (const auto& [disk, counters] : out) {
      if (disk.size() >= it->first.size() || it->first.compare(0, disk.size(), disk) != 0) continue;
      std::string_view rest = std::string_view(it->first).substr(disk.size());
      if (!rest.empty() && rest.front() == 'p') rest.remove_prefix(1);
      partition = !rest.empty() && parse_u64(rest).has_value();
      if (partition) break;
    }
    it = partition ? out.erase(it) : std::next(it);
  }
  return out;
}

std::map<std::string, NetCounters> parse_net_dev(std::string_view text) {
  std::map<std::string, NetCounters> out;
  for (auto line : split_lines(text)) {
    // "  eth0: rx_bytes rx_packets ... (8 rx fields) tx_bytes ..."
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    auto name = trim(line.substr(0, colon));
    if (name.empty() || name == "lo" || name.find(' ') != std::string_view::npos) continue;
    auto f = split_fields(line.substr(colon + 1));
    if (f.size() < 16) continue;
    auto rx = parse_u64(f[0]);
    auto tx = parse_u64(f[8]);
    if (!rx || !tx) continue;
    out[std::string(name)] = {*rx, *tx};
  }
  return out;
}

std::optional<double> counter_rate(uint64_t before, uint64_t after, double seconds) {
  if (seconds <= 0 || after < before) return std::nullopt;
  return static_cast<double>(after - before) / seconds;
}

CpuInfo parse_cpuinfo(std::string_view text) {
  CpuInfo out;
  std::string model_name, pi_model, hardware;
  for (auto line : split_lines(text)) {
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    auto key = trim(line.substr(0, colon));
    auto value = std::string(trim(line.substr(colon + 1)));
    if (key == "processor")
      ++out.cores;
    else if (key == "model name" && model_name.empty())
      model_name = value;
    else if (key == "Model" && pi_model.empty())
      pi_model = value;
    else if (key == "Hardware" && hardware.empty())
      hardware = value;
  }
  out.model = !model_name.empty() ? model_name : !pi_model.empty() ? pi_model : hardware;
  return out;
}

std::optional<double> parse_millidegrees(std::string_view text) {
  auto t = trim(text.substr(0, text.find('\n')));
  if (t.empty()) return std::nullopt;
  bool negative = t.front() == '-';
  auto v = parse_u64(negative ? t.substr(1) : t);
  if (!v) return std::nullopt;
  double c = static_cast<double>(*v) / 1000.0 * (negative ? -1 : 1);
  if (c < -100 || c > 200) return std::nullopt;
  return c;
}

}  // namespace metricsd::tools
