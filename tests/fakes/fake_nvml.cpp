// A fake NVML for the agent's tests: a shared library exporting the C functions that
// tools/agent/nvml_api.hpp lists (the same symbol names and signatures as the real
// libnvidia-ml.so.1), answering from a JSON scenario instead of a GPU. The scenario is the
// file named by METRICSD_FAKE_NVML_SCENARIO, read when NVML is initialized; its keys are
// described in tests/fakes/README.md. Besides the NVML functions the library exports
// fake_nvml_total_calls(), fake_nvml_lost_calls(index) and fake_nvml_reset_counters() for
// the tests (dlsym).
//
// Written for metricsd from the behaviour the NVML API reference documents; no code of
// NVIDIA's or of any other project.
#include "tools/agent/nvml_api.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace nvml = metricsd::tools::nvml;
using Json = nlohmann::json;

// The handle types nvml_api.hpp only declares. A Device points at one of these, owned by the
// scenario state; a handle is looked up among the live ones before anything reads it.
namespace metricsd::tools::nvml {
struct DeviceSt {
  std::size_t gpu = 0;  // index into State::gpus
  int mig_slot = -1;    // -1: the physical GPU; 0..6: one of its MIG devices
};
struct EventSetSt {
  std::set<std::size_t> registered;  // indices of the GPUs registered for XID events
  unsigned long long offset = 0;     // bytes of the XID file this set has read
};
}  // namespace metricsd::tools::nvml

namespace {

// Values nvml_api.hpp does not name.
constexpr nvml::Return kErrorAlreadyInitialized = 5;
constexpr nvml::Return kErrorArgumentVersionMismatch = 25;  // NVML_ERROR_ARGUMENT_VERSION_MISMATCH
constexpr int kClockGraphics = 0;
constexpr int kClockVideo = 3;
constexpr int kAggregateEcc = 1;
constexpr unsigned kFieldPcieCountTxBytes = 197;
constexpr unsigned kFieldPcieCountRxBytes = 198;

constexpr unsigned kMigSlots = 7;
constexpr unsigned kNoInstance = 0xFFFFFFFFu;
constexpr unsigned long long kMiB = 1024ULL * 1024ULL;
constexpr unsigned long long kValueNotAvailable = ~0ULL;  // NVML_VALUE_NOT_AVAILABLE
constexpr unsigned kCodecSamplingPeriodUs = 167000;
constexpr auto kXidPollInterval = std::chrono::milliseconds(10);

const char* const kScenarioEnv = "METRICSD_FAKE_NVML_SCENARIO";

// The names "unsupported" takes, each the call (or calls) it turns into NOT_SUPPORTED.
const std::set<std::string, std::less<>> kFeatures = {
    "util",        "enc_util", "dec_util",      "mem_v2",        "temp_mem",  "power",
    "power_limit", "energy",   "clocks",        "max_clocks",    "pstate",    "event_reasons",
    "violation",   "ecc",      "remapped_rows", "retired_pages", "pcie_link", "pcie_throughput",
    "processes",   "vbios",    "compute_mode",  "mig_mode",      "events"};

// violation_ns keys, by nvmlPerfPolicyType_t value.
constexpr std::array<const char*, 6> kPolicies = {"power",       "thermal",         "sync_boost",
                                                  "board_limit", "low_utilization", "reliability"};

struct Process {
  unsigned pid = 0;
  unsigned long long used_bytes = 0;  // kValueNotAvailable for "used_mib": null
  std::string name;
  unsigned gi = kNoInstance;
  unsigned ci = kNoInstance;
  bool graphics = false;
};

// A cumulative counter: start + per_s × seconds since nvmlInit.
struct Counter {
  unsigned long long start = 0;
  unsigned long long per_s = 0;
};

struct MigDevice {
  std::string name;
  std::string uuid;
  unsigned gi = 0;
  unsigned ci = 0;
  unsigned long long mem_total_mib = 0;
  unsigned long long mem_reserved_mib = 0;
  unsigned long long mem_used_mib = 0;
  std::optional<unsigned> util_gpu;  // none: NOT_SUPPORTED, as real drivers answer
  unsigned util_mem = 0;
  std::unique_ptr<nvml::DeviceSt> handle;
};

// One GPU, with the idle H200 of /work/shared/fixtures/gpu-h200 as the defaults.
struct Gpu {
  std::string name = "NVIDIA H200";
  std::string uuid;  // default: GPU-00000000-0000-0000-0000-<index, 12 hex digits>
  std::string vbios = "96.00.A5.00.1A";
  int compute_mode = 0;
  unsigned mig_mode = 0;
  unsigned mig_pending = 0;
  unsigned util_gpu = 0;
  unsigned util_mem = 0;
  unsigned enc_util = 0;
  unsigned dec_util = 0;
  unsigned long long mem_total_mib = 143771;
  unsigned long long mem_reserved_mib = 616;
  unsigned long long mem_used_mib = 0;
  unsigned temp_gpu = 37;
  unsigned temp_mem = 40;
  unsigned power_mw = 81640;
  unsigned power_limit_mw = 700000;
  unsigned enforced_limit_mw = 700000;
  unsigned long long energy_start_mj = 1000000;
  unsigned clock_sm = 345;
  unsigned clock_mem = 3201;
  unsigned max_clock_sm = 1980;
  unsigned max_clock_mem = 3201;
  int pstate = 0;
  unsigned long long event_reasons = nvml::kReasonGpuIdle;
  std::array<unsigned long long, kPolicies.size()> violation_ns{};
  unsigned long long ecc_corrected = 0;
  unsigned long long ecc_uncorrected = 0;
  std::array<unsigned, 4> remapped_rows{};  // correctable, uncorrectable, pending, failure
  std::array<unsigned, 2> retired_pages{};  // single bit, double bit
  unsigned pcie_gen = 5;
  unsigned pcie_width = 16;
  unsigned pcie_tx_kbs = 998;
  unsigned pcie_rx_kbs = 561;
  std::optional<Counter> nvlink_tx_kib, nvlink_rx_kib;  // fields 138, 139
  std::optional<Counter> pcie_tx_bytes, pcie_rx_bytes;  // fields 197, 198
  std::vector<Process> processes;
  std::set<std::string, std::less<>> unsupported;
  std::string lost_when_exists;
  std::array<std::optional<MigDevice>, kMigSlots> mig;
  std::unique_ptr<nvml::DeviceSt> handle;

  bool supports(std::string_view feature) const { return !unsupported.contains(feature); }
  bool mig_enabled() const { return mig_mode == nvml::kMigEnabled && supports("mig_mode"); }
};

struct State {
  int refcount = 0;  // nvmlInit_v2 calls not yet matched by nvmlShutdown
  std::string driver_version = "580.159.04";
  int cuda_version = 13000;
  std::string xid_file;
  std::vector<Gpu> gpus;
  std::vector<std::unique_ptr<nvml::EventSetSt>> sets;
  std::chrono::steady_clock::time_point start;
};

std::mutex g_mu;
State g_state;                               // guarded by g_mu
std::map<unsigned, int> g_lost_calls;        // guarded by g_mu; kept across nvmlShutdown
std::atomic<unsigned long long> g_calls{0};  // every NVML call

void count_call() {
  g_calls.fetch_add(1, std::memory_order_relaxed);
}

long long now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Microseconds since the successful nvmlInit_v2. g_mu held.
unsigned long long elapsed_us() {
  const auto d = std::chrono::steady_clock::now() - g_state.start;
  return static_cast<unsigned long long>(
      std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

unsigned long long counter_value(const Counter& c) {
  return c.start + c.per_s * elapsed_us() / 1000000ULL;
}

// ---------------------------------------------------------------------------------------
// Scenario parsing. Every error is a ScenarioError naming where it is.

struct ScenarioError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void check_keys(const Json& obj, std::initializer_list<std::string_view> allowed,
                const std::string& where) {
  if (!obj.is_object()) throw ScenarioError(where + ": not an object");
  for (const auto& [key, value] : obj.items()) {
    if (key.starts_with("_")) continue;  // comments
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      throw ScenarioError(where + ": unknown key \"" + key + "\"");
  }
}

unsigned long long to_u64(const Json& v, const std::string& where) {
  if (!v.is_number_unsigned()) throw ScenarioError(where + ": not a non-negative integer");
  return v.get<unsigned long long>();
}

unsigned to_u32(const Json& v, const std::string& where) {
  const unsigned long long n = to_u64(v, where);
  if (n > UINT_MAX) throw ScenarioError(where + ": above 4294967295");
  return static_cast<unsigned>(n);
}

int to_int(const Json& v, const std::string& where) {
  if (!v.is_number_integer()) throw ScenarioError(where + ": not an integer");
  const long long n = v.get<long long>();
  if (n < INT_MIN || n > INT_MAX) throw ScenarioError(where + ": out of range of int");
  return static_cast<int>(n);
}

std::string to_str(const Json& v, const std::string& where) {
  if (!v.is_string()) throw ScenarioError(where + ": not a string");
  return v.get<std::string>();
}

// Reads obj[key] into *out with `convert` when the key is there.
template <class T, class F>
void read_key(const Json& obj, const char* key, T* out, const std::string& where, F convert) {
  if (auto it = obj.find(key); it != obj.end()) *out = convert(*it, where + "." + key);
}

void read_u32(const Json& obj, const char* key, unsigned* out, const std::string& where) {
  read_key(obj, key, out, where, to_u32);
}
void read_u64(const Json& obj, const char* key, unsigned long long* out, const std::string& where) {
  read_key(obj, key, out, where, to_u64);
}
void read_int(const Json& obj, const char* key, int* out, const std::string& where) {
  read_key(obj, key, out, where, to_int);
}
void read_string(const Json& obj, const char* key, std::string* out, const std::string& where) {
  read_key(obj, key, out, where, to_str);
}

template <std::size_t N>
void read_u32_array(const Json& obj, const char* key, std::array<unsigned, N>* out,
                    const std::string& where) {
  auto it = obj.find(key);
  if (it == obj.end()) return;
  const std::string w = where + "." + key;
  if (!it->is_array() || it->size() != N)
    throw ScenarioError(w + ": not an array of " + std::to_string(N) + " integers");
  for (std::size_t i = 0; i < N; ++i)
    (*out)[i] = to_u32((*it)[i], w);
}

// A counter from `<base>` (the start) and `<base>_per_s` (its rate), when `<base>` is given.
std::optional<Counter> read_counter(const Json& obj, const std::string& base,
                                    const std::string& where) {
  Counter c;
  const auto it = obj.find(base);
  const auto rate = obj.find(base + "_per_s");
  if (it == obj.end()) {
    if (rate != obj.end()) throw ScenarioError(where + "." + base + "_per_s without " + base);
    return std::nullopt;
  }
  c.start = to_u64(*it, where + "." + base);
  if (rate != obj.end()) c.per_s = to_u64(*rate, where + "." + base + "_per_s");
  return c;
}

unsigned long long parse_bitmask(const Json& v, const std::string& where) {
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    errno = 0;
    char* end = nullptr;
    const unsigned long long n = std::strtoull(s.c_str(), &end, 0);
    if (s.empty() || *end != '\0' || errno != 0 || s[0] == '-')
      throw ScenarioError(where + ": not a number (\"0x4\" or 4)");
    return n;
  }
  return to_u64(v, where);
}

std::string hex_suffix(std::size_t n, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%0*zx", digits, n);
  return buf;
}

Process parse_process(const Json& j, const std::string& where) {
  check_keys(j, {"pid", "used_mib", "name", "gi", "ci", "graphics"}, where);
  Process p;
  p.name = "python3";
  if (!j.contains("pid")) throw ScenarioError(where + ": no pid");
  read_u32(j, "pid", &p.pid, where);
  if (auto it = j.find("used_mib"); it != j.end()) {
    if (it->is_null()) {
      p.used_bytes = kValueNotAvailable;
    } else {
      const unsigned long long mib = to_u64(*it, where + ".used_mib");
      if (mib > kValueNotAvailable / kMiB) throw ScenarioError(where + ".used_mib: too large");
      p.used_bytes = mib * kMiB;
    }
  }
  read_string(j, "name", &p.name, where);
  read_u32(j, "gi", &p.gi, where);
  read_u32(j, "ci", &p.ci, where);
  if (auto it = j.find("graphics"); it != j.end()) {
    if (!it->is_boolean()) throw ScenarioError(where + ".graphics: not true or false");
    p.graphics = it->get<bool>();
  }
  return p;
}

MigDevice parse_mig(const Json& j, const Gpu& parent, std::size_t gpu_index, unsigned slot,
                    const std::string& where) {
  check_keys(j,
             {"slot", "gi", "ci", "name", "uuid", "mem_total_mib", "mem_reserved_mib",
              "mem_used_mib", "util_gpu", "util_mem"},
             where);
  MigDevice m;
  m.name = parent.name + " MIG";
  m.uuid = "MIG-" + hex_suffix(gpu_index, 8) + "-0000-0000-0000-" + hex_suffix(slot, 12);
  m.gi = slot + 1;
  read_u32(j, "gi", &m.gi, where);
  read_u32(j, "ci", &m.ci, where);
  read_string(j, "name", &m.name, where);
  read_string(j, "uuid", &m.uuid, where);
  read_u64(j, "mem_total_mib", &m.mem_total_mib, where);
  read_u64(j, "mem_reserved_mib", &m.mem_reserved_mib, where);
  read_u64(j, "mem_used_mib", &m.mem_used_mib, where);
  if (auto it = j.find("util_gpu"); it != j.end()) m.util_gpu = to_u32(*it, where + ".util_gpu");
  read_u32(j, "util_mem", &m.util_mem, where);
  return m;
}

Gpu parse_gpu(const Json& j, std::size_t index) {
  const std::string where = "gpus[" + std::to_string(index) + "]";
  check_keys(j,
             {"name",
              "uuid",
              "vbios",
              "compute_mode",
              "mig_mode",
              "mig_pending",
              "util_gpu",
              "util_mem",
              "enc_util",
              "dec_util",
              "mem_total_mib",
              "mem_reserved_mib",
              "mem_used_mib",
              "temp_gpu",
              "temp_mem",
              "power_mw",
              "power_limit_mw",
              "enforced_limit_mw",
              "energy_start_mj",
              "clock_sm",
              "clock_mem",
              "max_clock_sm",
              "max_clock_mem",
              "pstate",
              "event_reasons",
              "violation_ns",
              "ecc_corrected",
              "ecc_uncorrected",
              "remapped_rows",
              "retired_pages",
              "pcie_gen",
              "pcie_width",
              "pcie_tx_kbs",
              "pcie_rx_kbs",
              "nvlink_tx_kib",
              "nvlink_rx_kib",
              "nvlink_tx_kib_per_s",
              "nvlink_rx_kib_per_s",
              "pcie_tx_bytes",
              "pcie_rx_bytes",
              "pcie_tx_bytes_per_s",
              "pcie_rx_bytes_per_s",
              "processes",
              "unsupported",
              "lost_when_exists",
              "mig_devices"},
             where);
  Gpu g;
  g.uuid = "GPU-00000000-0000-0000-0000-" + hex_suffix(index, 12);
  read_string(j, "name", &g.name, where);
  read_string(j, "uuid", &g.uuid, where);
  read_string(j, "vbios", &g.vbios, where);
  read_int(j, "compute_mode", &g.compute_mode, where);
  read_u32(j, "mig_mode", &g.mig_mode, where);
  g.mig_pending = g.mig_mode;
  read_u32(j, "mig_pending", &g.mig_pending, where);
  read_u32(j, "util_gpu", &g.util_gpu, where);
  read_u32(j, "util_mem", &g.util_mem, where);
  read_u32(j, "enc_util", &g.enc_util, where);
  read_u32(j, "dec_util", &g.dec_util, where);
  read_u64(j, "mem_total_mib", &g.mem_total_mib, where);
  read_u64(j, "mem_reserved_mib", &g.mem_reserved_mib, where);
  read_u64(j, "mem_used_mib", &g.mem_used_mib, where);
  read_u32(j, "temp_gpu", &g.temp_gpu, where);
  read_u32(j, "temp_mem", &g.temp_mem, where);
  read_u32(j, "power_mw", &g.power_mw, where);
  read_u32(j, "power_limit_mw", &g.power_limit_mw, where);
  read_u32(j, "enforced_limit_mw", &g.enforced_limit_mw, where);
  read_u64(j, "energy_start_mj", &g.energy_start_mj, where);
  read_u32(j, "clock_sm", &g.clock_sm, where);
  read_u32(j, "clock_mem", &g.clock_mem, where);
  read_u32(j, "max_clock_sm", &g.max_clock_sm, where);
  read_u32(j, "max_clock_mem", &g.max_clock_mem, where);
  read_int(j, "pstate", &g.pstate, where);
  read_key(j, "event_reasons", &g.event_reasons, where, parse_bitmask);
  if (auto it = j.find("violation_ns"); it != j.end()) {
    const std::string w = where + ".violation_ns";
    check_keys(*it,
               {"power", "thermal", "sync_boost", "board_limit", "low_utilization", "reliability"},
               w);
    for (std::size_t p = 0; p < kPolicies.size(); ++p)
      read_u64(*it, kPolicies[p], &g.violation_ns[p], w);
  }
  read_u64(j, "ecc_corrected", &g.ecc_corrected, where);
  read_u64(j, "ecc_uncorrected", &g.ecc_uncorrected, where);
  read_u32_array(j, "remapped_rows", &g.remapped_rows, where);
  read_u32_array(j, "retired_pages", &g.retired_pages, where);
  read_u32(j, "pcie_gen", &g.pcie_gen, where);
  read_u32(j, "pcie_width", &g.pcie_width, where);
  read_u32(j, "pcie_tx_kbs", &g.pcie_tx_kbs, where);
  read_u32(j, "pcie_rx_kbs", &g.pcie_rx_kbs, where);
  g.nvlink_tx_kib = read_counter(j, "nvlink_tx_kib", where);
  g.nvlink_rx_kib = read_counter(j, "nvlink_rx_kib", where);
  g.pcie_tx_bytes = read_counter(j, "pcie_tx_bytes", where);
  g.pcie_rx_bytes = read_counter(j, "pcie_rx_bytes", where);
  if (auto it = j.find("processes"); it != j.end()) {
    if (!it->is_array()) throw ScenarioError(where + ".processes: not an array");
    for (std::size_t i = 0; i < it->size(); ++i)
      g.processes.push_back(
          parse_process((*it)[i], where + ".processes[" + std::to_string(i) + "]"));
  }
  if (auto it = j.find("unsupported"); it != j.end()) {
    if (!it->is_array()) throw ScenarioError(where + ".unsupported: not an array");
    for (const auto& name : *it) {
      const std::string s = to_str(name, where + ".unsupported[]");
      if (!kFeatures.contains(s))
        throw ScenarioError(where + ".unsupported: unknown name \"" + s + "\"");
      g.unsupported.insert(s);
    }
  }
  read_string(j, "lost_when_exists", &g.lost_when_exists, where);
  if (auto it = j.find("mig_devices"); it != j.end()) {
    if (!it->is_array()) throw ScenarioError(where + ".mig_devices: not an array");
    for (std::size_t i = 0; i < it->size(); ++i) {
      const std::string w = where + ".mig_devices[" + std::to_string(i) + "]";
      const Json& entry = (*it)[i];
      unsigned slot = 0;  // the one given, or the first free one
      if (entry.is_object() && entry.contains("slot"))
        slot = to_u32(entry["slot"], w + ".slot");
      else
        while (slot < kMigSlots && g.mig[slot])
          ++slot;
      if (slot >= kMigSlots) throw ScenarioError(w + ": no slot 0..6 left");
      if (g.mig[slot]) throw ScenarioError(w + ": slot " + std::to_string(slot) + " taken");
      g.mig[slot] = parse_mig(entry, g, index, slot, w);
    }
  }
  return g;
}

// Reads and checks the scenario; throws ScenarioError or nlohmann's exceptions.
State parse_scenario(const std::string& path, int* init_error) {
  std::ifstream in(path);
  if (!in) throw ScenarioError(std::string("cannot read it: ") + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  const Json j = Json::parse(text.str());
  check_keys(j, {"init_error", "driver_version", "cuda_version", "xid_file", "gpus"}, "scenario");
  State s;
  *init_error = nvml::kSuccess;
  read_int(j, "init_error", init_error, "scenario");
  read_string(j, "driver_version", &s.driver_version, "scenario");
  read_int(j, "cuda_version", &s.cuda_version, "scenario");
  read_string(j, "xid_file", &s.xid_file, "scenario");
  if (auto it = j.find("gpus"); it != j.end()) {
    if (!it->is_array()) throw ScenarioError("scenario.gpus: not an array");
    for (std::size_t i = 0; i < it->size(); ++i)
      s.gpus.push_back(parse_gpu((*it)[i], i));
  }
  for (std::size_t i = 0; i < s.gpus.size(); ++i) {
    Gpu& g = s.gpus[i];
    g.handle = std::make_unique<nvml::DeviceSt>(nvml::DeviceSt{i, -1});
    for (unsigned slot = 0; slot < kMigSlots; ++slot)
      if (g.mig[slot])
        g.mig[slot]->handle =
            std::make_unique<nvml::DeviceSt>(nvml::DeviceSt{i, static_cast<int>(slot)});
  }
  return s;
}

// ---------------------------------------------------------------------------------------
// Calls on a device handle.

struct Target {
  std::size_t index = 0;
  Gpu* gpu = nullptr;
  MigDevice* mig = nullptr;  // set for a MIG device's handle
};

bool is_lost(const Gpu& g) {
  return !g.lost_when_exists.empty() && ::access(g.lost_when_exists.c_str(), F_OK) == 0;
}

// Counts a call made while GPU `index` is lost and returns GPU_IS_LOST. g_mu held.
nvml::Return lost_call(std::size_t index) {
  ++g_lost_calls[static_cast<unsigned>(index)];
  return nvml::kErrorGpuIsLost;
}

// Finds the live handle `d` (never reading through it). g_mu held.
nvml::Return resolve(nvml::Device d, Target* t) {
  if (g_state.refcount == 0) return nvml::kErrorUninitialized;
  if (d == nullptr) return nvml::kErrorInvalidArgument;
  for (std::size_t i = 0; i < g_state.gpus.size() && !t->gpu; ++i) {
    Gpu& g = g_state.gpus[i];
    if (g.handle.get() == d) *t = {i, &g, nullptr};
    for (auto& m : g.mig)
      if (m && m->handle.get() == d) *t = {i, &g, &*m};
  }
  if (!t->gpu) return nvml::kErrorInvalidArgument;
  if (is_lost(*t->gpu)) return lost_call(t->index);
  return nvml::kSuccess;
}

enum class Accepts { kGpu, kGpuOrMig };

// The frame of every call on a device: counts it, locks, checks the handle, whether the GPU
// is lost, whether the call applies to a MIG device and whether the scenario lists
// `feature` (may be null) as unsupported; then answers with f(target).
template <class F>
nvml::Return device_call(nvml::Device d, const char* feature, Accepts accepts, F&& f) {
  count_call();
  std::lock_guard lock(g_mu);
  Target t;
  if (const nvml::Return r = resolve(d, &t); r != nvml::kSuccess) return r;
  if (t.mig && accepts == Accepts::kGpu) return nvml::kErrorNotSupported;
  if (feature && !t.gpu->supports(feature)) return nvml::kErrorNotSupported;
  return f(t);
}

// For calls that answer one value of a physical GPU.
template <class T, class F>
nvml::Return gpu_value(nvml::Device d, const char* feature, T* out, F&& value) {
  return device_call(d, feature, Accepts::kGpu, [&](const Target& t) {
    if (!out) return nvml::kErrorInvalidArgument;
    *out = value(*t.gpu);
    return nvml::kSuccess;
  });
}

nvml::Return copy_string(const std::string& s, char* buf, unsigned length) {
  if (!buf) return nvml::kErrorInvalidArgument;
  if (length < s.size() + 1) return nvml::kErrorInsufficientSize;
  std::memcpy(buf, s.c_str(), s.size() + 1);
  return nvml::kSuccess;
}

// Memory of a GPU or MIG device, in bytes.
struct MemoryBytes {
  unsigned long long total, reserved, used;
};

MemoryBytes memory_of(const Target& t) {
  if (t.mig)
    return {t.mig->mem_total_mib * kMiB, t.mig->mem_reserved_mib * kMiB,
            t.mig->mem_used_mib * kMiB};
  return {t.gpu->mem_total_mib * kMiB, t.gpu->mem_reserved_mib * kMiB, t.gpu->mem_used_mib * kMiB};
}

unsigned long long minus(unsigned long long a, unsigned long long b) {
  return a > b ? a - b : 0;
}

nvml::Return running_processes(nvml::Device d, bool graphics, unsigned int* count,
                               nvml::ProcessInfo* infos) {
  return device_call(d, "processes", Accepts::kGpuOrMig, [&](const Target& t) {
    if (!count) return nvml::kErrorInvalidArgument;
    std::vector<const Process*> found;
    for (const Process& p : t.gpu->processes) {
      if (p.graphics != graphics) continue;
      if (t.mig && (p.gi != t.mig->gi || p.ci != t.mig->ci)) continue;
      found.push_back(&p);
    }
    if (*count < found.size()) {
      *count = static_cast<unsigned>(found.size());
      return nvml::kErrorInsufficientSize;
    }
    if (!infos && !found.empty()) return nvml::kErrorInvalidArgument;
    for (std::size_t i = 0; i < found.size(); ++i)
      infos[i] = {found[i]->pid, found[i]->used_bytes, found[i]->gi, found[i]->ci};
    *count = static_cast<unsigned>(found.size());
    return nvml::kSuccess;
  });
}

nvml::Return clock_reasons(nvml::Device d, unsigned long long* reasons) {
  return gpu_value(d, "event_reasons", reasons, [](const Gpu& g) { return g.event_reasons; });
}

nvml::Return codec_util(nvml::Device d, const char* feature, unsigned Gpu::*field,
                        unsigned int* util, unsigned int* period_us) {
  return device_call(d, feature, Accepts::kGpu, [&](const Target& t) {
    if (!util || !period_us) return nvml::kErrorInvalidArgument;
    *util = t.gpu->*field;
    *period_us = kCodecSamplingPeriodUs;
    return nvml::kSuccess;
  });
}

// The clock of `type` from (sm, mem); graphics is the SM clock on these parts.
nvml::Return clock_of(int type, unsigned sm, unsigned mem, unsigned int* out) {
  if (!out) return nvml::kErrorInvalidArgument;
  switch (type) {
    case kClockGraphics:
    case nvml::kClockSm:
      *out = sm;
      return nvml::kSuccess;
    case nvml::kClockMem:
      *out = mem;
      return nvml::kSuccess;
    case kClockVideo:
      return nvml::kErrorNotSupported;
    default:
      return nvml::kErrorInvalidArgument;
  }
}

void set_counter_field(nvml::FieldValue& v, const std::optional<Counter>& c) {
  if (!c || v.scopeId != nvml::kScopeAllLinks) {
    v.nvmlReturn = nvml::kErrorNotSupported;
    return;
  }
  v.valueType = nvml::kValueTypeUnsignedLongLong;
  v.value.ullVal = counter_value(*c);
  v.nvmlReturn = nvml::kSuccess;
}

// The PCIe counters take no scope (the field is per device).
void set_pcie_field(nvml::FieldValue& v, const std::optional<Counter>& c) {
  if (!c) {
    v.nvmlReturn = nvml::kErrorNotSupported;
    return;
  }
  v.valueType = nvml::kValueTypeUnsignedLongLong;
  v.value.ullVal = counter_value(*c);
  v.nvmlReturn = nvml::kSuccess;
}

// ---------------------------------------------------------------------------------------
// XID events.

nvml::EventSetSt* find_set(nvml::EventSet s) {  // g_mu held
  for (auto& p : g_state.sets)
    if (p.get() == s) return p.get();
  return nullptr;
}

// Reads what `set` has not yet read of the XID file, up to the first complete line that
// names a GPU registered in the set, and fills *data from it. Lines for other GPUs and
// malformed lines are passed over; a last line without its newline is left for later.
// g_mu held.
bool next_xid(nvml::EventSetSt& set, nvml::EventData* data) {
  if (g_state.xid_file.empty()) return false;
  const int fd = ::open(g_state.xid_file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(set.offset + text.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  std::size_t pos = 0;
  for (std::size_t nl; (nl = text.find('\n', pos)) != std::string::npos; pos = nl + 1) {
    const std::string line = text.substr(pos, nl - pos);
    set.offset += line.size() + 1;
    std::istringstream fields(line);
    long long index = -1;
    unsigned long long xid = 0;
    std::string rest;
    if (!(fields >> index >> xid) || (fields >> rest) || index < 0) {
      if (line.find_first_not_of(" \t\r") != std::string::npos)
        std::fprintf(stderr, "fake_nvml: %s: not \"GPU_INDEX XID\": %s\n", g_state.xid_file.c_str(),
                     line.c_str());
      continue;
    }
    const auto i = static_cast<std::size_t>(index);
    if (i >= g_state.gpus.size() || !set.registered.contains(i)) continue;
    *data = {g_state.gpus[i].handle.get(), nvml::kEventTypeXidCriticalError, xid, kNoInstance,
             kNoInstance};
    return true;
  }
  return false;
}

const char* error_text(nvml::Return r) {
  switch (r) {
    case nvml::kSuccess:
      return "Success";
    case nvml::kErrorUninitialized:
      return "Uninitialized";
    case nvml::kErrorInvalidArgument:
      return "Invalid Argument";
    case nvml::kErrorNotSupported:
      return "Not Supported";
    case nvml::kErrorNoPermission:
      return "Insufficient Permissions";
    case kErrorAlreadyInitialized:
      return "Already Initialized";
    case nvml::kErrorNotFound:
      return "Not Found";
    case nvml::kErrorInsufficientSize:
      return "Insufficient Size";
    case 8:
      return "Insufficient External Power";
    case nvml::kErrorDriverNotLoaded:
      return "Driver Not Loaded";
    case nvml::kErrorTimeout:
      return "Timeout";
    case 11:
      return "Interrupt Request Issue";
    case 12:
      return "NVML Shared Library Not Found";
    case nvml::kErrorFunctionNotFound:
      return "Function Not Found";
    case 14:
      return "Corrupted infoROM";
    case nvml::kErrorGpuIsLost:
      return "GPU is lost";
    case nvml::kErrorResetRequired:
      return "GPU requires restart";
    case 17:
      return "GPU access blocked by the operating system";
    case 18:
      return "Driver/library version mismatch";
    case 19:
      return "In use by another client";
    case 20:
      return "Insufficient Memory";
    case nvml::kErrorNoData:
      return "No data";
    case 22:
      return "ECC not supported for vGPU";
    case 23:
      return "Insufficient Resources";
    case 24:
      return "Frequency not supported";
    case kErrorArgumentVersionMismatch:
      return "Argument version mismatch";
    case 26:
      return "Deprecated";
    case 27:
      return "Not ready";
    case 28:
      return "GPU not found";
    case 29:
      return "Invalid state";
    default:
      return "Unknown Error";
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------
// The exported functions.

#define FAKE_NVML_API extern "C" __attribute__((visibility("default")))

FAKE_NVML_API nvml::Return nvmlInit_v2() {
  count_call();
  std::lock_guard lock(g_mu);
  if (g_state.refcount > 0) {
    ++g_state.refcount;
    return nvml::kSuccess;
  }
  const char* path = std::getenv(kScenarioEnv);
  if (!path || !*path) {
    std::fprintf(stderr, "fake_nvml: %s is not set: no scenario, no driver\n", kScenarioEnv);
    return nvml::kErrorDriverNotLoaded;
  }
  int init_error = nvml::kSuccess;
  State s;
  try {
    s = parse_scenario(path, &init_error);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fake_nvml: scenario %s: %s\n", path, e.what());
    return nvml::kErrorDriverNotLoaded;
  }
  if (init_error != nvml::kSuccess) return init_error;
  g_state = std::move(s);
  g_state.refcount = 1;
  g_state.start = std::chrono::steady_clock::now();
  return nvml::kSuccess;
}

FAKE_NVML_API nvml::Return nvmlShutdown() {
  count_call();
  std::lock_guard lock(g_mu);
  if (g_state.refcount == 0) return nvml::kErrorUninitialized;
  if (--g_state.refcount == 0) g_state = State{};
  return nvml::kSuccess;
}

FAKE_NVML_API const char* nvmlErrorString(nvml::Return result) {
  count_call();
  return error_text(result);
}

FAKE_NVML_API nvml::Return nvmlDeviceGetCount_v2(unsigned int* count) {
  count_call();
  std::lock_guard lock(g_mu);
  if (g_state.refcount == 0) return nvml::kErrorUninitialized;
  if (!count) return nvml::kErrorInvalidArgument;
  *count = static_cast<unsigned>(g_state.gpus.size());
  return nvml::kSuccess;
}

FAKE_NVML_API nvml::Return nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvml::Device* device) {
  count_call();
  std::lock_guard lock(g_mu);
  if (g_state.refcount == 0) return nvml::kErrorUninitialized;
  if (!device || index >= g_state.gpus.size()) return nvml::kErrorInvalidArgument;
  if (is_lost(g_state.gpus[index])) return lost_call(index);
  *device = g_state.gpus[index].handle.get();
  return nvml::kSuccess;
}

FAKE_NVML_API nvml::Return nvmlDeviceGetName(nvml::Device device, char* name, unsigned int length) {
  return device_call(device, nullptr, Accepts::kGpuOrMig, [&](const Target& t) {
    return copy_string(t.mig ? t.mig->name : t.gpu->name, name, length);
  });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetUUID(nvml::Device device, char* uuid, unsigned int length) {
  return device_call(device, nullptr, Accepts::kGpuOrMig, [&](const Target& t) {
    return copy_string(t.mig ? t.mig->uuid : t.gpu->uuid, uuid, length);
  });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetVbiosVersion(nvml::Device device, char* version,
                                                     unsigned int length) {
  return device_call(device, "vbios", Accepts::kGpu,
                     [&](const Target& t) { return copy_string(t.gpu->vbios, version, length); });
}

FAKE_NVML_API nvml::Return nvmlSystemGetDriverVersion(char* version, unsigned int length) {
  count_call();
  std::lock_guard lock(g_mu);
  if (g_state.refcount == 0) return nvml::kErrorUninitialized;
  return copy_string(g_state.driver_version, version, length);
}

FAKE_NVML_API nvml::Return nvmlSystemGetCudaDriverVersion_v2(int* version) {
  count_call();
  std::lock_guard lock(g_mu);
  if (g_state.refcount == 0) return nvml::kErrorUninitialized;
  if (!version) return nvml::kErrorInvalidArgument;
  *version = g_state.cuda_version;
  return nvml::kSuccess;
}

FAKE_NVML_API nvml::Return nvmlDeviceGetComputeMode(nvml::Device device, int* mode) {
  return gpu_value(device, "compute_mode", mode, [](const Gpu& g) { return g.compute_mode; });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetMigMode(nvml::Device device, unsigned int* current,
                                                unsigned int* pending) {
  return device_call(device, "mig_mode", Accepts::kGpu, [&](const Target& t) {
    if (!current || !pending) return nvml::kErrorInvalidArgument;
    *current = t.gpu->mig_mode;
    *pending = t.gpu->mig_pending;
    return nvml::kSuccess;
  });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetPowerManagementLimit(nvml::Device device,
                                                             unsigned int* limit) {
  return gpu_value(device, "power_limit", limit, [](const Gpu& g) { return g.power_limit_mw; });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetEnforcedPowerLimit(nvml::Device device,
                                                           unsigned int* limit) {
  return gpu_value(device, "power_limit", limit, [](const Gpu& g) { return g.enforced_limit_mw; });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetPowerUsage(nvml::Device device, unsigned int* power) {
  return gpu_value(device, "power", power, [](const Gpu& g) { return g.power_mw; });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetTotalEnergyConsumption(nvml::Device device,
                                                               unsigned long long* energy) {
  return gpu_value(device, "energy", energy, [](const Gpu& g) {
    return counter_value(Counter{g.energy_start_mj, g.power_mw});  // mW × s = mJ
  });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetMaxClockInfo(nvml::Device device, int type,
                                                     unsigned int* clock) {
  return device_call(device, "max_clocks", Accepts::kGpu, [&](const Target& t) {
    return clock_of(type, t.gpu->max_clock_sm, t.gpu->max_clock_mem, clock);
  });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetClockInfo(nvml::Device device, int type,
                                                  unsigned int* clock) {
  return device_call(device, "clocks", Accepts::kGpu, [&](const Target& t) {
    return clock_of(type, t.gpu->clock_sm, t.gpu->clock_mem, clock);
  });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetTemperature(nvml::Device device, int sensor,
                                                    unsigned int* temp) {
  return device_call(device, nullptr, Accepts::kGpu, [&](const Target& t) {
    if (!temp || sensor != nvml::kTemperatureGpu) return nvml::kErrorInvalidArgument;
    *temp = t.gpu->temp_gpu;
    return nvml::kSuccess;
  });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetUtilizationRates(nvml::Device device,
                                                         nvml::Utilization* util) {
  return device_call(device, nullptr, Accepts::kGpuOrMig, [&](const Target& t) {
    if (t.mig) {
      if (!t.mig->util_gpu) return nvml::kErrorNotSupported;
      if (!util) return nvml::kErrorInvalidArgument;
      *util = {*t.mig->util_gpu, t.mig->util_mem};
      return nvml::kSuccess;
    }
    if (!t.gpu->supports("util")) return nvml::kErrorNotSupported;
    if (!util) return nvml::kErrorInvalidArgument;
    *util = {t.gpu->util_gpu, t.gpu->util_mem};
    return nvml::kSuccess;
  });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetEncoderUtilization(nvml::Device device,
                                                           unsigned int* utilization,
                                                           unsigned int* sampling_period_us) {
  return codec_util(device, "enc_util", &Gpu::enc_util, utilization, sampling_period_us);
}

FAKE_NVML_API nvml::Return nvmlDeviceGetDecoderUtilization(nvml::Device device,
                                                           unsigned int* utilization,
                                                           unsigned int* sampling_period_us) {
  return codec_util(device, "dec_util", &Gpu::dec_util, utilization, sampling_period_us);
}

FAKE_NVML_API nvml::Return nvmlDeviceGetMemoryInfo(nvml::Device device, nvml::Memory* memory) {
  return device_call(device, nullptr, Accepts::kGpuOrMig, [&](const Target& t) {
    if (!memory) return nvml::kErrorInvalidArgument;
    const MemoryBytes m = memory_of(t);
    const unsigned long long used = m.used + m.reserved;
    *memory = {m.total, minus(m.total, used), used};
    return nvml::kSuccess;
  });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetMemoryInfo_v2(nvml::Device device, nvml::MemoryV2* memory) {
  return device_call(device, "mem_v2", Accepts::kGpuOrMig, [&](const Target& t) {
    if (!memory) return nvml::kErrorInvalidArgument;
    if (memory->version != nvml::kMemoryV2) return kErrorArgumentVersionMismatch;
    const MemoryBytes m = memory_of(t);
    memory->total = m.total;
    memory->reserved = m.reserved;
    memory->used = m.used;
    memory->free = minus(m.total, m.reserved + m.used);
    return nvml::kSuccess;
  });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetPerformanceState(nvml::Device device, int* pstate) {
  return gpu_value(device, "pstate", pstate, [](const Gpu& g) { return g.pstate; });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetCurrentClocksEventReasons(nvml::Device device,
                                                                  unsigned long long* reasons) {
  return clock_reasons(device, reasons);
}

FAKE_NVML_API nvml::Return nvmlDeviceGetCurrentClocksThrottleReasons(nvml::Device device,
                                                                     unsigned long long* reasons) {
  return clock_reasons(device, reasons);
}

FAKE_NVML_API nvml::Return nvmlDeviceGetViolationStatus(nvml::Device device, int policy,
                                                        nvml::ViolationTime* time) {
  return device_call(device, "violation", Accepts::kGpu, [&](const Target& t) {
    if (!time || policy < 0 || policy >= static_cast<int>(kPolicies.size()))
      return nvml::kErrorInvalidArgument;
    time->referenceTime = static_cast<unsigned long long>(now_us());
    time->violationTime = t.gpu->violation_ns[static_cast<std::size_t>(policy)];
    return nvml::kSuccess;
  });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetTotalEccErrors(nvml::Device device, int error_type,
                                                       int counter_type,
                                                       unsigned long long* count) {
  return device_call(device, "ecc", Accepts::kGpu, [&](const Target& t) {
    if (!count || (counter_type != nvml::kVolatileEcc && counter_type != kAggregateEcc))
      return nvml::kErrorInvalidArgument;
    switch (error_type) {
      case nvml::kMemoryErrorCorrected:
        *count = t.gpu->ecc_corrected;
        return nvml::kSuccess;
      case nvml::kMemoryErrorUncorrected:
        *count = t.gpu->ecc_uncorrected;
        return nvml::kSuccess;
      default:
        return nvml::kErrorInvalidArgument;
    }
  });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetRemappedRows(nvml::Device device, unsigned int* corr_rows,
                                                     unsigned int* unc_rows,
                                                     unsigned int* is_pending,
                                                     unsigned int* failure_occurred) {
  return device_call(device, "remapped_rows", Accepts::kGpu, [&](const Target& t) {
    if (!corr_rows || !unc_rows || !is_pending || !failure_occurred)
      return nvml::kErrorInvalidArgument;
    *corr_rows = t.gpu->remapped_rows[0];
    *unc_rows = t.gpu->remapped_rows[1];
    *is_pending = t.gpu->remapped_rows[2];
    *failure_occurred = t.gpu->remapped_rows[3];
    return nvml::kSuccess;
  });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetRetiredPages(nvml::Device device, int cause,
                                                     unsigned int* page_count,
                                                     unsigned long long* addresses) {
  return device_call(device, "retired_pages", Accepts::kGpu, [&](const Target& t) {
    if (!page_count || (cause != nvml::kRetiredSingleBitEcc && cause != nvml::kRetiredDoubleBitEcc))
      return nvml::kErrorInvalidArgument;
    const unsigned pages = t.gpu->retired_pages[static_cast<std::size_t>(cause)];
    const unsigned room = *page_count;
    *page_count = pages;
    if (room == 0) return nvml::kSuccess;  // a query of the count
    if (!addresses) return nvml::kErrorInvalidArgument;
    // Made-up page addresses: distinct per GPU, cause and page.
    for (unsigned i = 0; i < std::min(room, pages); ++i)
      addresses[i] = (static_cast<unsigned long long>(t.index + 1) << 32) |
                     (static_cast<unsigned long long>(cause) << 24) | (0x1000ULL + i);
    return room < pages ? nvml::kErrorInsufficientSize : nvml::kSuccess;
  });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetCurrPcieLinkGeneration(nvml::Device device,
                                                               unsigned int* gen) {
  return gpu_value(device, "pcie_link", gen, [](const Gpu& g) { return g.pcie_gen; });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetCurrPcieLinkWidth(nvml::Device device,
                                                          unsigned int* width) {
  return gpu_value(device, "pcie_link", width, [](const Gpu& g) { return g.pcie_width; });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetPcieThroughput(nvml::Device device, int counter,
                                                       unsigned int* value) {
  return device_call(device, "pcie_throughput", Accepts::kGpu, [&](const Target& t) {
    if (!value) return nvml::kErrorInvalidArgument;
    switch (counter) {
      case nvml::kPcieTxBytes:
        *value = t.gpu->pcie_tx_kbs;
        return nvml::kSuccess;
      case nvml::kPcieRxBytes:
        *value = t.gpu->pcie_rx_kbs;
        return nvml::kSuccess;
      default:
        return nvml::kErrorInvalidArgument;
    }
  });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetFieldValues(nvml::Device device, int count,
                                                    nvml::FieldValue* values) {
  return device_call(device, nullptr, Accepts::kGpu, [&](const Target& t) {
    if (count < 0 || (count > 0 && !values)) return nvml::kErrorInvalidArgument;
    const Gpu& g = *t.gpu;
    const long long ts = now_us();
    for (int i = 0; i < count; ++i) {
      nvml::FieldValue& v = values[i];
      v.timestamp = ts;
      v.latencyUsec = 0;
      v.value.ullVal = 0;
      v.valueType = nvml::kValueTypeUnsignedLongLong;
      v.nvmlReturn = nvml::kErrorNotSupported;
      switch (v.fieldId) {
        case nvml::kFieldMemoryTemp:
          if (g.supports("temp_mem")) {
            v.valueType = nvml::kValueTypeUnsignedInt;
            v.value.uiVal = g.temp_mem;
            v.nvmlReturn = nvml::kSuccess;
          }
          break;
        case nvml::kFieldNvlinkThroughputDataTx:
          set_counter_field(v, g.nvlink_tx_kib);
          break;
        case nvml::kFieldNvlinkThroughputDataRx:
          set_counter_field(v, g.nvlink_rx_kib);
          break;
        case kFieldPcieCountTxBytes:
          set_pcie_field(v, g.pcie_tx_bytes);
          break;
        case kFieldPcieCountRxBytes:
          set_pcie_field(v, g.pcie_rx_bytes);
          break;
        default:
          break;
      }
    }
    return nvml::kSuccess;
  });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetComputeRunningProcesses_v3(nvml::Device device,
                                                                   unsigned int* count,
                                                                   nvml::ProcessInfo* infos) {
  return running_processes(device, false, count, infos);
}

FAKE_NVML_API nvml::Return nvmlDeviceGetGraphicsRunningProcesses_v3(nvml::Device device,
                                                                    unsigned int* count,
                                                                    nvml::ProcessInfo* infos) {
  return running_processes(device, true, count, infos);
}

FAKE_NVML_API nvml::Return nvmlSystemGetProcessName(unsigned int pid, char* name,
                                                    unsigned int length) {
  count_call();
  std::lock_guard lock(g_mu);
  if (g_state.refcount == 0) return nvml::kErrorUninitialized;
  if (!name) return nvml::kErrorInvalidArgument;
  for (const Gpu& g : g_state.gpus)
    for (const Process& p : g.processes)
      if (p.pid == pid) return copy_string(p.name, name, length);
  return nvml::kErrorNotFound;
}

FAKE_NVML_API nvml::Return nvmlDeviceGetMaxMigDeviceCount(nvml::Device device,
                                                          unsigned int* count) {
  // The reference: zero where MIG is not supported or not enabled.
  return gpu_value(device, nullptr, count,
                   [](const Gpu& g) { return g.mig_enabled() ? kMigSlots : 0U; });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetMigDeviceHandleByIndex(nvml::Device device,
                                                               unsigned int index,
                                                               nvml::Device* mig_device) {
  return device_call(device, "mig_mode", Accepts::kGpu, [&](const Target& t) {
    if (!mig_device || index >= kMigSlots) return nvml::kErrorInvalidArgument;
    if (!t.gpu->mig_enabled() || !t.gpu->mig[index]) return nvml::kErrorNotFound;
    *mig_device = t.gpu->mig[index]->handle.get();
    return nvml::kSuccess;
  });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetGpuInstanceId(nvml::Device device, unsigned int* id) {
  return device_call(device, nullptr, Accepts::kGpuOrMig, [&](const Target& t) {
    if (!t.mig) return nvml::kErrorNotSupported;  // a physical GPU is no instance
    if (!id) return nvml::kErrorInvalidArgument;
    *id = t.mig->gi;
    return nvml::kSuccess;
  });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetComputeInstanceId(nvml::Device device, unsigned int* id) {
  return device_call(device, nullptr, Accepts::kGpuOrMig, [&](const Target& t) {
    if (!t.mig) return nvml::kErrorNotSupported;
    if (!id) return nvml::kErrorInvalidArgument;
    *id = t.mig->ci;
    return nvml::kSuccess;
  });
}

FAKE_NVML_API nvml::Return nvmlEventSetCreate(nvml::EventSet* set) {
  count_call();
  std::lock_guard lock(g_mu);
  if (g_state.refcount == 0) return nvml::kErrorUninitialized;
  if (!set) return nvml::kErrorInvalidArgument;
  g_state.sets.push_back(std::make_unique<nvml::EventSetSt>());
  *set = g_state.sets.back().get();
  return nvml::kSuccess;
}

FAKE_NVML_API nvml::Return nvmlDeviceRegisterEvents(nvml::Device device,
                                                    unsigned long long event_types,
                                                    nvml::EventSet set) {
  return device_call(device, "events", Accepts::kGpu, [&](const Target& t) {
    nvml::EventSetSt* s = find_set(set);
    if (!s) return nvml::kErrorInvalidArgument;
    if (event_types & ~nvml::kEventTypeXidCriticalError) return nvml::kErrorNotSupported;
    if (event_types) s->registered.insert(t.index);
    return nvml::kSuccess;
  });
}

FAKE_NVML_API nvml::Return nvmlDeviceGetSupportedEventTypes(nvml::Device device,
                                                            unsigned long long* types) {
  return gpu_value(device, "events", types,
                   [](const Gpu&) { return nvml::kEventTypeXidCriticalError; });
}

FAKE_NVML_API nvml::Return nvmlEventSetWait_v2(nvml::EventSet set, nvml::EventData* data,
                                               unsigned int timeout_ms) {
  count_call();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    bool polling = true;
    {
      std::lock_guard lock(g_mu);
      if (g_state.refcount == 0) return nvml::kErrorUninitialized;
      nvml::EventSetSt* s = find_set(set);
      if (!s || !data) return nvml::kErrorInvalidArgument;
      if (next_xid(*s, data)) return nvml::kSuccess;
      // Without an XID file nothing can arrive: sleep the whole wait, as the driver blocks,
      // so the fake costs no CPU in the agent's benchmark.
      polling = !g_state.xid_file.empty();
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return nvml::kErrorTimeout;
    std::this_thread::sleep_for(
        polling ? std::min<std::chrono::steady_clock::duration>(kXidPollInterval, deadline - now)
                : deadline - now);
  }
}

FAKE_NVML_API nvml::Return nvmlEventSetFree(nvml::EventSet set) {
  count_call();
  std::lock_guard lock(g_mu);
  if (g_state.refcount == 0) return nvml::kErrorUninitialized;
  auto it = std::find_if(g_state.sets.begin(), g_state.sets.end(),
                         [&](const auto& p) { return p.get() == set; });
  if (it == g_state.sets.end()) return nvml::kErrorInvalidArgument;
  g_state.sets.erase(it);
  return nvml::kSuccess;
}

// For the tests: every NVML call since the library was loaded (or the last reset).
FAKE_NVML_API unsigned long long fake_nvml_total_calls() {
  return g_calls.load(std::memory_order_relaxed);
}

// For the tests: the calls naming GPU `index` made while it was lost (its
// lost_when_exists file existed), across nvmlShutdown/nvmlInit_v2; -1 for an index the
// current scenario does not have.
FAKE_NVML_API int fake_nvml_lost_calls(unsigned index) {
  std::lock_guard lock(g_mu);
  if (index >= g_state.gpus.size() && !g_lost_calls.contains(index)) return -1;
  auto it = g_lost_calls.find(index);
  return it == g_lost_calls.end() ? 0 : it->second;
}

// For the tests: sets both counters back to zero.
FAKE_NVML_API void fake_nvml_reset_counters() {
  std::lock_guard lock(g_mu);
  g_lost_calls.clear();
  g_calls.store(0, std::memory_order_relaxed);
}

// The signatures are nvml_api.hpp's.
static_assert(std::is_same_v<decltype(&nvmlInit_v2), nvml::InitFn>);
static_assert(std::is_same_v<decltype(&nvmlShutdown), nvml::ShutdownFn>);
static_assert(std::is_same_v<decltype(&nvmlErrorString), nvml::ErrorStringFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetCount_v2), nvml::DeviceGetCountFn>);
static_assert(
    std::is_same_v<decltype(&nvmlDeviceGetHandleByIndex_v2), nvml::DeviceGetHandleByIndexFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetName), nvml::DeviceGetStringFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetUUID), nvml::DeviceGetStringFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetVbiosVersion), nvml::DeviceGetStringFn>);
static_assert(std::is_same_v<decltype(&nvmlSystemGetDriverVersion), nvml::SystemGetStringFn>);
static_assert(
    std::is_same_v<decltype(&nvmlSystemGetCudaDriverVersion_v2), nvml::SystemGetCudaVersionFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetComputeMode), nvml::DeviceGetIntEnumFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetMigMode), nvml::DeviceGetMigModeFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetPowerManagementLimit), nvml::DeviceGetUintFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetEnforcedPowerLimit), nvml::DeviceGetUintFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetPowerUsage), nvml::DeviceGetUintFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetTotalEnergyConsumption), nvml::DeviceGetUllFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetMaxClockInfo), nvml::DeviceGetClockFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetClockInfo), nvml::DeviceGetClockFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetTemperature), nvml::DeviceGetTemperatureFn>);
static_assert(
    std::is_same_v<decltype(&nvmlDeviceGetUtilizationRates), nvml::DeviceGetUtilizationFn>);
static_assert(
    std::is_same_v<decltype(&nvmlDeviceGetEncoderUtilization), nvml::DeviceGetCodecUtilFn>);
static_assert(
    std::is_same_v<decltype(&nvmlDeviceGetDecoderUtilization), nvml::DeviceGetCodecUtilFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetMemoryInfo), nvml::DeviceGetMemoryFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetMemoryInfo_v2), nvml::DeviceGetMemoryV2Fn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetPerformanceState), nvml::DeviceGetIntEnumFn>);
static_assert(
    std::is_same_v<decltype(&nvmlDeviceGetCurrentClocksEventReasons), nvml::DeviceGetUllFn>);
static_assert(
    std::is_same_v<decltype(&nvmlDeviceGetCurrentClocksThrottleReasons), nvml::DeviceGetUllFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetViolationStatus), nvml::DeviceGetViolationFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetTotalEccErrors), nvml::DeviceGetEccFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetRemappedRows), nvml::DeviceGetRemappedRowsFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetRetiredPages), nvml::DeviceGetRetiredPagesFn>);
static_assert(
    std::is_same_v<decltype(&nvmlDeviceGetCurrPcieLinkGeneration), nvml::DeviceGetUintFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetCurrPcieLinkWidth), nvml::DeviceGetUintFn>);
static_assert(
    std::is_same_v<decltype(&nvmlDeviceGetPcieThroughput), nvml::DeviceGetPcieThroughputFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetFieldValues), nvml::DeviceGetFieldValuesFn>);
static_assert(
    std::is_same_v<decltype(&nvmlDeviceGetComputeRunningProcesses_v3), nvml::DeviceGetProcessesFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetGraphicsRunningProcesses_v3),
                             nvml::DeviceGetProcessesFn>);
static_assert(std::is_same_v<decltype(&nvmlSystemGetProcessName), nvml::SystemGetProcessNameFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetMaxMigDeviceCount), nvml::DeviceGetUintFn>);
static_assert(
    std::is_same_v<decltype(&nvmlDeviceGetMigDeviceHandleByIndex), nvml::DeviceGetMigDeviceFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetGpuInstanceId), nvml::DeviceGetUintFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetComputeInstanceId), nvml::DeviceGetUintFn>);
static_assert(std::is_same_v<decltype(&nvmlEventSetCreate), nvml::EventSetCreateFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceRegisterEvents), nvml::DeviceRegisterEventsFn>);
static_assert(std::is_same_v<decltype(&nvmlDeviceGetSupportedEventTypes),
                             nvml::DeviceGetSupportedEventTypesFn>);
static_assert(std::is_same_v<decltype(&nvmlEventSetWait_v2), nvml::EventSetWaitFn>);
static_assert(std::is_same_v<decltype(&nvmlEventSetFree), nvml::EventSetFreeFn>);
