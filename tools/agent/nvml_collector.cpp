// GPU readings through NVML (see nvml_collector.hpp).
#include "tools/agent/nvml_collector.hpp"

#include <algorithm>
#include <array>
#include <cstdio>

#include "tools/agent/sysfs_temps.hpp"

namespace metricsd::tools {
namespace {

using nlohmann::json;

constexpr double kMiB = 1024.0 * 1024.0;
constexpr unsigned kNoInstance = 0xFFFFFFFFu;

// The clock event reasons, as gpu.throttle{reason=...}.
constexpr std::array<std::pair<unsigned long long, const char*>, 9> kReasons = {{
    {nvml::kReasonGpuIdle, "gpu_idle"},
    {nvml::kReasonApplicationsClocksSetting, "applications_clocks_setting"},
    {nvml::kReasonSwPowerCap, "sw_power_cap"},
    {nvml::kReasonHwSlowdown, "hw_slowdown"},
    {nvml::kReasonSyncBoost, "sync_boost"},
    {nvml::kReasonSwThermalSlowdown, "sw_thermal_slowdown"},
    {nvml::kReasonHwThermalSlowdown, "hw_thermal_slowdown"},
    {nvml::kReasonHwPowerBrakeSlowdown, "hw_power_brake"},
    {nvml::kReasonDisplayClockSetting, "display_clock_setting"},
}};

// The limiters whose cumulative time NVML keeps, as gpu.throttle_seconds_total{reason=...}.
constexpr std::array<std::pair<int, const char*>, 6> kPolicies = {{
    {nvml::kPerfPolicyPower, "power"},
    {nvml::kPerfPolicyThermal, "thermal"},
    {nvml::kPerfPolicySyncBoost, "sync_boost"},
    {nvml::kPerfPolicyBoardLimit, "board_limit"},
    {nvml::kPerfPolicyLowUtilization, "low_utilization"},
    {nvml::kPerfPolicyReliability, "reliability"},
}};

std::optional<double> field_number(const nvml::FieldValue& v) {
  if (v.nvmlReturn != nvml::kSuccess) return std::nullopt;
  switch (v.valueType) {
    case nvml::kValueTypeDouble:
      return v.value.dVal;
    case nvml::kValueTypeUnsignedInt:
      return v.value.uiVal;
    case nvml::kValueTypeUnsignedLong:
      return static_cast<double>(v.value.ulVal);
    case nvml::kValueTypeUnsignedLongLong:
      return static_cast<double>(v.value.ullVal);
    case nvml::kValueTypeSignedLongLong:
      return static_cast<double>(v.value.sllVal);
    case nvml::kValueTypeSignedInt:
      return v.value.siVal;
    case nvml::kValueTypeUnsignedShort:
      return v.value.usVal;
    default:
      return std::nullopt;
  }
}

std::optional<unsigned long long> field_counter(const nvml::FieldValue& v) {
  if (v.nvmlReturn != nvml::kSuccess) return std::nullopt;
  switch (v.valueType) {
    case nvml::kValueTypeUnsignedInt:
      return v.value.uiVal;
    case nvml::kValueTypeUnsignedLong:
      return v.value.ulVal;
    case nvml::kValueTypeUnsignedLongLong:
      return v.value.ullVal;
    default:
      return std::nullopt;
  }
}

// A per-second rate of a cumulative counter; none on the first reading or a reset/wrap.
std::optional<double> rate(std::optional<unsigned long long>& prev, unsigned long long now,
                           double dt) {
  std::optional<double> r;
  if (prev && now >= *prev && dt > 0) r = static_cast<double>(now - *prev) / dt;
  prev = now;
  return r;
}

std::string text_of(const char* buf) {
  return std::string(buf);
}

// A process name as a label value: printable, at most 64 bytes.
std::string label_value(std::string s) {
  for (auto& ch : s)
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '?';
  if (s.size() > 64) s.resize(64);
  return s.empty() ? "?" : s;
}

}  // namespace

NvmlCollector::NvmlCollector(NvmlLibrary& lib, NvmlCollectorOptions options)
    : lib_(lib), options_(std::move(options)) {
  char buf[nvml::kDriverBufferSize] = {};
  if (lib_.driver_version && lib_.driver_version(buf, sizeof buf) == nvml::kSuccess)
    driver_version_ = text_of(buf);
  int cuda = 0;
  if (lib_.cuda_version && lib_.cuda_version(&cuda) == nvml::kSuccess && cuda > 0)
    cuda_version_ = std::to_string(cuda / 1000) + "." + std::to_string(cuda % 1000 / 10);
  unsigned count = 0;
  if (nvml::Return r = lib_.device_count(&count); r != nvml::kSuccess) {
    note("NVML could not count the GPUs: " + lib_.error_string(r));
    count = 0;
  }
  gpus_.resize(count);
  for (unsigned i = 0; i < count; ++i) {
    Gpu& g = gpus_[i];
    g.index = i;
    g.label = std::to_string(i);
    try {
      attach(g);
    } catch (const Lost&) {
      probe(g, 0);
    }
  }
}

void NvmlCollector::attach(Gpu& g) {
  nvml::Device dev = nullptr;
  nvml::Return r = lib_.handle_by_index(g.index, &dev);
  if (r == nvml::kErrorGpuIsLost) throw Lost();
  if (r != nvml::kSuccess) {
    if (g.said.insert("handle").second)
      note("GPU " + g.label + ": NVML gives no handle (" + lib_.error_string(r) + "); skipped");
    return;
  }
  g.dev = dev;
  json info = {{"index", g.label}};
  char buf[nvml::kNameBufferSize] = {};
  if (!missing(g, "name", reinterpret_cast<const void*>(lib_.name)) &&
      ok(g, "name", lib_.name(dev, buf, sizeof buf)))
    g.name = text_of(buf);
  info["name"] = g.name;
  char uuid[nvml::kUuidBufferSize] = {};
  if (!missing(g, "UUID", reinterpret_cast<const void*>(lib_.uuid)) &&
      ok(g, "UUID", lib_.uuid(dev, uuid, sizeof uuid)))
    info["uuid"] = text_of(uuid);
  char vbios[nvml::kVbiosBufferSize] = {};
  if (!missing(g, "VBIOS version", reinterpret_cast<const void*>(lib_.vbios)) &&
      ok(g, "VBIOS version", lib_.vbios(dev, vbios, sizeof vbios)))
    info["vbios"] = text_of(vbios);
  int mode = 0;
  if (!missing(g, "compute mode", reinterpret_cast<const void*>(lib_.compute_mode)) &&
      ok(g, "compute mode", lib_.compute_mode(dev, &mode))) {
    static const char* kModes[] = {"default", "exclusive_thread", "prohibited",
                                   "exclusive_process"};
    info["compute_mode"] = mode >= 0 && mode < 4 ? kModes[mode] : std::to_string(mode);
  }
  unsigned current = 0, pending = 0;
  if (!missing(g, "MIG mode", reinterpret_cast<const void*>(lib_.mig_mode)) &&
      ok(g, "MIG mode", lib_.mig_mode(dev, &current, &pending)))
    info["mig_mode"] = current == nvml::kMigEnabled ? "enabled" : "disabled";
  unsigned limit = 0;
  if (!missing(g, "power management limit",
               reinterpret_cast<const void*>(lib_.power_management_limit)) &&
      ok(g, "power management limit", lib_.power_management_limit(dev, &limit)))
    info["power_limit_w"] = limit / 1000.0;
  unsigned mhz = 0;
  if (!missing(g, "maximum clocks", reinterpret_cast<const void*>(lib_.max_clock))) {
    if (ok(g, "maximum clocks", lib_.max_clock(dev, nvml::kClockSm, &mhz)))
      info["max_clock_sm_mhz"] = mhz;
    if (ok(g, "maximum clocks", lib_.max_clock(dev, nvml::kClockMem, &mhz)))
      info["max_clock_mem_mhz"] = mhz;
  }
  nvml::Memory mem{};
  if (lib_.memory && lib_.memory(dev, &mem) == nvml::kSuccess)
    info["vram_mb"] = static_cast<double>(mem.total) / kMiB;
  g.info = std::move(info);
}

bool NvmlCollector::missing(Gpu& g, const std::string& field, const void* fn) {
  if (fn) return false;
  if (g.said.insert(field).second)
    note("GPU " + g.label + ": " + field + " not in this NVML (" + lib_.path() + "); left out");
  return true;
}

bool NvmlCollector::ok(Gpu& g, const std::string& field, nvml::Return r) {
  if (r == nvml::kSuccess) return true;
  if (r == nvml::kErrorGpuIsLost) throw Lost();
  if (g.said.insert(field).second) {
    const std::string who = "GPU " + g.label + (g.name.empty() ? "" : " (" + g.name + ")");
    note(who + ": " + field +
         (r == nvml::kErrorNotSupported ? " not supported" : ": " + lib_.error_string(r)) +
         "; left out");
  }
  return false;
}

NvmlReading NvmlCollector::collect(int64_t ts, double mono_s) {
  NvmlReading out;
  out.gpus = gpus_.size();
  std::vector<Proc> procs;
  for (auto& g : gpus_) {
    if (g.lost) {
      if (mono_s >= g.next_probe_s) probe(g, mono_s);
      if (g.lost) {
        out.samples.push_back({"gpu.lost", {{"gpu", g.label}}, 1, ts, ""});
        continue;
      }
    }
    if (!g.dev) continue;
    const size_t mark = out.samples.size();
    const size_t proc_mark = procs.size();
    try {
      read_gpu(g, ts, mono_s, out.samples, procs);
      out.samples.push_back({"gpu.lost", {{"gpu", g.label}}, 0, ts, ""});
    } catch (const Lost&) {
      // Half a reading of a GPU that went away is not sent.
      out.samples.resize(mark);
      procs.resize(proc_mark);
      g.lost = true;
      g.backoff_s = options_.reprobe_min_s;
      g.next_probe_s = mono_s + g.backoff_s;
      g.pcie_tx = g.pcie_rx = g.nvlink_tx = g.nvlink_rx = std::nullopt;
      note("GPU " + g.label + (g.name.empty() ? "" : " (" + g.name + ")") +
           " is lost (fallen off the bus or inaccessible); probing again every " +
           std::to_string(static_cast<int>(g.backoff_s)) + " s, doubling up to " +
           std::to_string(static_cast<int>(options_.reprobe_max_s)) + " s");
      out.samples.push_back({"gpu.lost", {{"gpu", g.label}}, 1, ts, ""});
    }
  }
  // The top processes of the node by GPU memory: the cardinality stays bounded.
  std::sort(procs.begin(), procs.end(), [](const Proc& a, const Proc& b) {
    return a.mib != b.mib ? a.mib > b.mib : a.pid < b.pid;
  });
  if (procs.size() > options_.top_processes) procs.resize(options_.top_processes);
  for (const auto& p : procs)
    out.samples.push_back({"gpu.process_mem_mb",
                           {{"gpu", p.gpu}, {"pid", p.pid}, {"process", p.name}},
                           p.mib,
                           ts,
                           ""});
  out.notices = std::move(notices_);
  notices_.clear();
  return out;
}

void NvmlCollector::probe(Gpu& g, double mono_s) {
  bool back = false;
  try {
    g.said.erase("handle");
    attach(g);
    unsigned t = 0;
    back = g.dev && lib_.temperature &&
           lib_.temperature(g.dev, nvml::kTemperatureGpu, &t) != nvml::kErrorGpuIsLost;
  } catch (const Lost&) {
  }
  if (back) {
    if (g.lost) note("GPU " + g.label + " is back");
    g.lost = false;
    return;
  }
  if (!g.lost) {
    note("GPU " + g.label +
         " is lost (fallen off the bus or inaccessible); probing again with backoff");
    g.lost = true;
    g.backoff_s = options_.reprobe_min_s;
  } else {
    g.backoff_s = std::min(g.backoff_s * 2, options_.reprobe_max_s);
  }
  g.dev = nullptr;
  g.next_probe_s = mono_s + g.backoff_s;
}

void NvmlCollector::read_gpu(Gpu& g, int64_t ts, double mono_s, std::vector<Sample>& out,
                             std::vector<Proc>& procs) {
  const Labels gpu = {{"gpu", g.label}};
  auto add = [&](const char* metric, double v) { out.push_back({metric, gpu, v, ts, ""}); };
  nvml::Device dev = g.dev;

  nvml::Utilization u{};
  if (!missing(g, "utilization", reinterpret_cast<const void*>(lib_.utilization)) &&
      ok(g, "utilization", lib_.utilization(dev, &u))) {
    add("gpu.util", u.gpu);
    add("gpu.mem_util", u.memory);
  }
  unsigned util = 0, period = 0;
  if (!missing(g, "encoder utilization", reinterpret_cast<const void*>(lib_.encoder_util)) &&
      ok(g, "encoder utilization", lib_.encoder_util(dev, &util, &period)))
    add("gpu.enc_util", util);
  if (!missing(g, "decoder utilization", reinterpret_cast<const void*>(lib_.decoder_util)) &&
      ok(g, "decoder utilization", lib_.decoder_util(dev, &util, &period)))
    add("gpu.dec_util", util);
  read_memory(g, ts, out);

  unsigned temp = 0;
  if (!missing(g, "temperature", reinterpret_cast<const void*>(lib_.temperature)) &&
      ok(g, "temperature", lib_.temperature(dev, nvml::kTemperatureGpu, &temp)))
    add("gpu.temp_c", temp);
  read_fields(g, ts, mono_s, out);

  unsigned mw = 0;
  if (!missing(g, "power draw", reinterpret_cast<const void*>(lib_.power_usage)) &&
      ok(g, "power draw", lib_.power_usage(dev, &mw)))
    add("gpu.power_w", mw / 1000.0);
  if (!missing(g, "power limit", reinterpret_cast<const void*>(lib_.enforced_power_limit)) &&
      ok(g, "power limit", lib_.enforced_power_limit(dev, &mw)))
    add("gpu.power_limit_w", mw / 1000.0);
  unsigned long long mj = 0;
  if (!missing(g, "energy counter", reinterpret_cast<const void*>(lib_.total_energy)) &&
      ok(g, "energy counter", lib_.total_energy(dev, &mj)))
    add("gpu.energy_joules_total", static_cast<double>(mj) / 1000.0);

  unsigned mhz = 0;
  if (!missing(g, "clocks", reinterpret_cast<const void*>(lib_.clock))) {
    if (ok(g, "SM clock", lib_.clock(dev, nvml::kClockSm, &mhz))) add("gpu.clock_sm_mhz", mhz);
    if (ok(g, "memory clock", lib_.clock(dev, nvml::kClockMem, &mhz)))
      add("gpu.clock_mem_mhz", mhz);
  }
  if (!missing(g, "maximum clocks", reinterpret_cast<const void*>(lib_.max_clock))) {
    if (ok(g, "maximum SM clock", lib_.max_clock(dev, nvml::kClockSm, &mhz)))
      add("gpu.clock_sm_max_mhz", mhz);
    if (ok(g, "maximum memory clock", lib_.max_clock(dev, nvml::kClockMem, &mhz)))
      add("gpu.clock_mem_max_mhz", mhz);
  }
  int pstate = 0;
  if (!missing(g, "P-state", reinterpret_cast<const void*>(lib_.performance_state)) &&
      ok(g, "P-state", lib_.performance_state(dev, &pstate)) && pstate >= 0 &&
      pstate != nvml::kPstateUnknown)
    add("gpu.pstate", pstate);

  read_throttle(g, ts, out);
  read_errors(g, ts, out);
  read_pcie(g, ts, out);
  read_processes(g, procs);
  read_mig(g, ts, out);
}

void NvmlCollector::read_memory(Gpu& g, int64_t ts, std::vector<Sample>& out) {
  const Labels gpu = {{"gpu", g.label}};
  double used = 0, total = 0;
  std::optional<double> reserved;
  if (!g.use_memory_v1 && lib_.memory_v2) {
    nvml::MemoryV2 m{};
    m.version = nvml::kMemoryV2;
    nvml::Return r = lib_.memory_v2(g.dev, &m);
    if (r == nvml::kErrorGpuIsLost) throw Lost();
    if (r == nvml::kSuccess) {
      used = static_cast<double>(m.used) / kMiB;
      total = static_cast<double>(m.total) / kMiB;
      reserved = static_cast<double>(m.reserved) / kMiB;
    } else {
      g.use_memory_v1 = true;  // an older driver: v1 from now on
    }
  } else {
    g.use_memory_v1 = true;
  }
  if (g.use_memory_v1) {
    nvml::Memory m{};
    if (missing(g, "memory", reinterpret_cast<const void*>(lib_.memory)) ||
        !ok(g, "memory", lib_.memory(g.dev, &m)))
      return;
    used = static_cast<double>(m.used) / kMiB;
    total = static_cast<double>(m.total) / kMiB;
  }
  out.push_back({"gpu.mem_used_mb", gpu, used, ts, ""});
  out.push_back({"gpu.mem_total_mb", gpu, total, ts, ""});
  if (reserved) out.push_back({"gpu.mem_reserved_mb", gpu, *reserved, ts, ""});
  if (total > 0) out.push_back({"gpu.mem_used_pct", gpu, 100.0 * used / total, ts, ""});
}

// Memory temperature, NVLink and PCIe byte counters: one nvmlDeviceGetFieldValues call.
void NvmlCollector::read_fields(Gpu& g, int64_t ts, double mono_s, std::vector<Sample>& out) {
  if (missing(g, "field values (memory temperature, NVLink)",
              reinterpret_cast<const void*>(lib_.field_values)))
    return;
  const Labels gpu = {{"gpu", g.label}};
  nvml::FieldValue v[5] = {};
  v[0].fieldId = nvml::kFieldMemoryTemp;
  v[1].fieldId = nvml::kFieldNvlinkThroughputDataTx;
  v[1].scopeId = nvml::kScopeAllLinks;
  v[2].fieldId = nvml::kFieldNvlinkThroughputDataRx;
  v[2].scopeId = nvml::kScopeAllLinks;
  v[3].fieldId = nvml::kFieldPcieCountTxBytes;
  v[4].fieldId = nvml::kFieldPcieCountRxBytes;
  const int n = g.pcie_counters ? 5 : 3;
  if (!ok(g, "field values (memory temperature, NVLink)", lib_.field_values(g.dev, n, v))) return;
  for (int i = 0; i < n; ++i)
    if (v[i].nvmlReturn == nvml::kErrorGpuIsLost) throw Lost();
  const double dt = mono_s - g.counters_at_s;
  g.counters_at_s = mono_s;
  if (auto t = field_number(v[0]))
    out.push_back({"gpu.mem_temp_c", gpu, *t, ts, ""});
  else
    ok(g, "memory temperature",
       v[0].nvmlReturn == nvml::kSuccess ? nvml::kErrorNotSupported : v[0].nvmlReturn);
  auto tx = field_counter(v[1]), rx = field_counter(v[2]);
  if (tx && rx) {
    // KiB counters summed over the links.
    if (auto r = rate(g.nvlink_tx, *tx, dt))
      out.push_back({"gpu.nvlink_tx_bytes_per_s", gpu, *r * 1024, ts, ""});
    if (auto r = rate(g.nvlink_rx, *rx, dt))
      out.push_back({"gpu.nvlink_rx_bytes_per_s", gpu, *r * 1024, ts, ""});
  } else {
    ok(g, "NVLink throughput", nvml::kErrorNotSupported);
  }
  if (g.pcie_counters) {
    auto ptx = field_counter(v[3]), prx = field_counter(v[4]);
    if (ptx && prx) {
      if (auto r = rate(g.pcie_tx, *ptx, dt))
        out.push_back({"gpu.pcie_tx_bytes_per_s", gpu, *r, ts, ""});
      if (auto r = rate(g.pcie_rx, *prx, dt))
        out.push_back({"gpu.pcie_rx_bytes_per_s", gpu, *r, ts, ""});
    } else {
      g.pcie_counters = false;  // nvmlDeviceGetPcieThroughput from now on (read_pcie)
    }
  }
}

void NvmlCollector::read_throttle(Gpu& g, int64_t ts, std::vector<Sample>& out) {
  unsigned long long reasons = 0;
  if (!missing(g, "clock event reasons", reinterpret_cast<const void*>(lib_.clock_event_reasons)) &&
      ok(g, "clock event reasons", lib_.clock_event_reasons(g.dev, &reasons)))
    for (const auto& [bit, name] : kReasons)
      out.push_back({"gpu.throttle",
                     {{"gpu", g.label}, {"reason", name}},
                     (reasons & bit) ? 1.0 : 0.0,
                     ts,
                     ""});
  if (missing(g, "throttle time", reinterpret_cast<const void*>(lib_.violation))) return;
  for (const auto& [policy, name] : kPolicies) {
    nvml::ViolationTime vt{};
    if (ok(g, std::string("throttle time (") + name + ")", lib_.violation(g.dev, policy, &vt)))
      out.push_back({"gpu.throttle_seconds_total",
                     {{"gpu", g.label}, {"reason", name}},
                     static_cast<double>(vt.violationTime) / 1e9,
                     ts,
                     ""});
  }
}

void NvmlCollector::read_errors(Gpu& g, int64_t ts, std::vector<Sample>& out) {
  const Labels gpu = {{"gpu", g.label}};
  unsigned long long count = 0;
  if (!missing(g, "ECC counts", reinterpret_cast<const void*>(lib_.ecc))) {
    if (ok(g, "ECC counts",
           lib_.ecc(g.dev, nvml::kMemoryErrorCorrected, nvml::kVolatileEcc, &count)))
      out.push_back({"gpu.ecc_corrected_errors", gpu, static_cast<double>(count), ts, ""});
    if (ok(g, "ECC counts",
           lib_.ecc(g.dev, nvml::kMemoryErrorUncorrected, nvml::kVolatileEcc, &count)))
      out.push_back({"gpu.ecc_uncorrected_errors", gpu, static_cast<double>(count), ts, ""});
  }
  unsigned corr = 0, unc = 0, pending = 0, failed = 0;
  if (!missing(g, "remapped rows", reinterpret_cast<const void*>(lib_.remapped_rows)) &&
      ok(g, "remapped rows", lib_.remapped_rows(g.dev, &corr, &unc, &pending, &failed))) {
    out.push_back({"gpu.remapped_rows_correctable", gpu, static_cast<double>(corr), ts, ""});
    out.push_back({"gpu.remapped_rows_uncorrectable", gpu, static_cast<double>(unc), ts, ""});
    out.push_back({"gpu.remapped_rows_pending", gpu, pending ? 1.0 : 0.0, ts, ""});
    out.push_back({"gpu.remapped_rows_failed", gpu, failed ? 1.0 : 0.0, ts, ""});
  }
  if (missing(g, "retired pages", reinterpret_cast<const void*>(lib_.retired_pages))) return;
  for (auto [cause, name] : {std::pair{nvml::kRetiredSingleBitEcc, "single_bit_ecc"},
                             std::pair{nvml::kRetiredDoubleBitEcc, "double_bit_ecc"}}) {
    unsigned pages = 0;
    nvml::Return r = lib_.retired_pages(g.dev, cause, &pages, nullptr);
    if (r == nvml::kErrorInsufficientSize) r = nvml::kSuccess;  // the count is set
    if (ok(g, "retired pages", r))
      out.push_back({"gpu.retired_pages",
                     {{"gpu", g.label}, {"cause", name}},
                     static_cast<double>(pages),
                     ts,
                     ""});
  }
}

void NvmlCollector::read_pcie(Gpu& g, int64_t ts, std::vector<Sample>& out) {
  const Labels gpu = {{"gpu", g.label}};
  unsigned v = 0;
  if (!missing(g, "PCIe link", reinterpret_cast<const void*>(lib_.pcie_link_gen)) &&
      ok(g, "PCIe link", lib_.pcie_link_gen(g.dev, &v)))
    out.push_back({"gpu.pcie_link_gen", gpu, static_cast<double>(v), ts, ""});
  if (!missing(g, "PCIe link", reinterpret_cast<const void*>(lib_.pcie_link_width)) &&
      ok(g, "PCIe link", lib_.pcie_link_width(g.dev, &v)))
    out.push_back({"gpu.pcie_link_width", gpu, static_cast<double>(v), ts, ""});
  if (g.pcie_counters) return;  // rates from the byte counters (read_fields)
  // NVML samples each direction over 20 ms (KB/s): two calls, 40 ms of wall time.
  if (missing(g, "PCIe throughput", reinterpret_cast<const void*>(lib_.pcie_throughput))) return;
  if (ok(g, "PCIe throughput", lib_.pcie_throughput(g.dev, nvml::kPcieTxBytes, &v)))
    out.push_back({"gpu.pcie_tx_bytes_per_s", gpu, v * 1024.0, ts, ""});
  if (ok(g, "PCIe throughput", lib_.pcie_throughput(g.dev, nvml::kPcieRxBytes, &v)))
    out.push_back({"gpu.pcie_rx_bytes_per_s", gpu, v * 1024.0, ts, ""});
}

void NvmlCollector::read_processes(Gpu& g, std::vector<Proc>& procs) {
  if (options_.top_processes == 0) return;
  std::map<unsigned, double> by_pid;  // a process with compute and graphics contexts once
  for (auto [fn, what] : {std::pair{lib_.compute_processes, "compute processes"},
                          std::pair{lib_.graphics_processes, "graphics processes"}}) {
    if (missing(g, what, reinterpret_cast<const void*>(fn))) continue;
    std::vector<nvml::ProcessInfo> infos(16);
    nvml::Return r = nvml::kSuccess;
    for (int attempt = 0; attempt < 3; ++attempt) {
      unsigned n = static_cast<unsigned>(infos.size());
      r = fn(g.dev, &n, infos.data());
      if (r == nvml::kErrorInsufficientSize && n > infos.size()) {
        infos.resize(n + 8);  // more processes started meanwhile: a little room
        continue;
      }
      infos.resize(r == nvml::kSuccess ? std::min<size_t>(n, infos.size()) : 0);
      break;
    }
    if (!ok(g, what, r)) continue;
    for (const auto& p : infos) {
      // usedGpuMemory is NVML_VALUE_NOT_AVAILABLE (all ones) where the driver cannot tell.
      if (p.usedGpuMemory == ~0ULL) continue;
      by_pid[p.pid] = std::max(by_pid[p.pid], static_cast<double>(p.usedGpuMemory) / kMiB);
    }
  }
  for (const auto& [pid, mib] : by_pid)
    procs.push_back({g.label, std::to_string(pid), process_name(pid), mib});
}

std::string NvmlCollector::process_name(unsigned pid) const {
  char buf[nvml::kProcessNameSize] = {};
  std::string name;
  if (lib_.process_name && lib_.process_name(pid, buf, sizeof buf) == nvml::kSuccess)
    name = text_of(buf);
  if (name.empty()) {
    name = read_small_file(std::filesystem::path(options_.proc_root) / std::to_string(pid) / "comm",
                           256);
    while (!name.empty() && (name.back() == '\n' || name.back() == ' '))
      name.pop_back();
  }
  // NVML gives the executable's path: the label is its last part.
  if (auto slash = name.find_last_of('/'); slash != std::string::npos && slash + 1 < name.size())
    name = name.substr(slash + 1);
  return label_value(name);
}

void NvmlCollector::read_mig(Gpu& g, int64_t ts, std::vector<Sample>& out) {
  if (!lib_.mig_mode || !lib_.mig_device || !lib_.max_mig_devices) return;
  unsigned current = 0, pending = 0;
  if (lib_.mig_mode(g.dev, &current, &pending) != nvml::kSuccess || current != nvml::kMigEnabled)
    return;
  unsigned slots = 0;
  if (!ok(g, "MIG devices", lib_.max_mig_devices(g.dev, &slots))) return;
  for (unsigned i = 0; i < slots; ++i) {
    nvml::Device mig = nullptr;
    nvml::Return r = lib_.mig_device(g.dev, i, &mig);
    if (r == nvml::kErrorNotFound) continue;  // an empty slot
    if (!ok(g, "MIG devices", r)) return;
    unsigned gi = kNoInstance;
    if (!lib_.gpu_instance_id || lib_.gpu_instance_id(mig, &gi) != nvml::kSuccess) gi = i;
    const Labels labels = {{"gpu", g.label}, {"mig", std::to_string(gi)}};
    nvml::Memory m{};
    if (lib_.memory && ok(g, "MIG memory", lib_.memory(mig, &m))) {
      out.push_back({"gpu.mem_used_mb", labels, static_cast<double>(m.used) / kMiB, ts, ""});
      out.push_back({"gpu.mem_total_mb", labels, static_cast<double>(m.total) / kMiB, ts, ""});
      if (m.total > 0)
        out.push_back({"gpu.mem_used_pct", labels,
                       100.0 * static_cast<double>(m.used) / static_cast<double>(m.total), ts, ""});
    }
    // NVML has no utilization for MIG devices on today's drivers (DCGM has): sent when given.
    nvml::Utilization u{};
    if (lib_.utilization && ok(g, "MIG utilization", lib_.utilization(mig, &u)))
      out.push_back({"gpu.util", labels, static_cast<double>(u.gpu), ts, ""});
  }
}

json NvmlCollector::gpus_info() const {
  json gpus = json::array();
  for (const auto& g : gpus_) {
    json one = g.info.empty() ? json{{"index", g.label}} : g.info;
    if (g.lost) one["lost"] = true;
    gpus.push_back(std::move(one));
  }
  return gpus;
}

std::vector<std::pair<nvml::Device, std::string>> NvmlCollector::handles() const {
  std::vector<std::pair<nvml::Device, std::string>> out;
  for (const auto& g : gpus_)
    if (g.dev) out.emplace_back(g.dev, g.label);
  return out;
}

}  // namespace metricsd::tools
