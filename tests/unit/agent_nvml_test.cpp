// The agent's NVML collection against the fake libnvidia-ml (tests/fakes/fake_nvml.cpp),
// loaded by dlopen() through the same path override users have: every field of the H200
// recording, under load, 8 GPUs with the top processes, MIG instances, fields a GPU does
// not support (left out, said once), a GPU that falls off the bus (said once, re-probed
// with backoff, back), XID events from the event thread, and a library that cannot load.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tools/agent/nvml_collector.hpp"
#include "tools/agent/nvml_library.hpp"
#include "tools/agent/xid_watcher.hpp"

namespace metricsd::tools {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kScenarios = fs::path(METRICSD_SOURCE_DIR) / "tests/fakes";

std::unique_ptr<NvmlLibrary> open_fake(const fs::path& scenario) {
  ::setenv("METRICSD_FAKE_NVML_SCENARIO", scenario.c_str(), 1);
  std::string error;
  auto lib = NvmlLibrary::open(FAKE_NVML_LIBRARY, error);
  EXPECT_TRUE(lib) << error;
  return lib;
}

// A scenario written for one test.
struct TempScenario {
  fs::path dir;
  explicit TempScenario(const json& doc) {
    dir = fs::temp_directory_path() /
          ("nvml-test-" + std::to_string(::getpid()) + "-" +
           std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    fs::create_directories(dir);
    std::ofstream(dir / "scenario.json") << doc.dump();
  }
  ~TempScenario() { fs::remove_all(dir); }
  fs::path file() const { return dir / "scenario.json"; }
};

const Sample* find(const std::vector<Sample>& s, const std::string& metric, const Labels& labels) {
  for (const auto& x : s)
    if (x.metric == metric && x.labels == labels) return &x;
  return nullptr;
}

double value(const std::vector<Sample>& s, const std::string& metric, const Labels& labels) {
  const Sample* x = find(s, metric, labels);
  EXPECT_TRUE(x) << metric;
  return x ? x->value : -1;
}

size_t count_metric(const std::vector<Sample>& s, const std::string& metric) {
  size_t n = 0;
  for (const auto& x : s)
    n += x.metric == metric;
  return n;
}

size_t count_notices(const std::vector<std::string>& notices, const std::string& part) {
  size_t n = 0;
  for (const auto& x : notices)
    n += x.find(part) != std::string::npos;
  return n;
}

const Labels kGpu0 = {{"gpu", "0"}};

TEST(AgentNvml, H200IdleGivesEveryFieldOfTheRecording) {
  auto lib = open_fake(kScenarios / "h200.json");
  ASSERT_TRUE(lib);
  NvmlCollector c(*lib, {});
  auto r = c.collect(1000, 1.0);
  EXPECT_EQ(r.gpus, 1u);
  const auto& s = r.samples;
  EXPECT_EQ(value(s, "gpu.util", kGpu0), 0);
  EXPECT_EQ(value(s, "gpu.mem_util", kGpu0), 0);
  EXPECT_EQ(value(s, "gpu.enc_util", kGpu0), 0);
  EXPECT_EQ(value(s, "gpu.dec_util", kGpu0), 0);
  EXPECT_EQ(value(s, "gpu.mem_used_mb", kGpu0), 0);
  EXPECT_EQ(value(s, "gpu.mem_total_mb", kGpu0), 143771);
  EXPECT_EQ(value(s, "gpu.mem_reserved_mb", kGpu0), 616);
  EXPECT_EQ(value(s, "gpu.mem_used_pct", kGpu0), 0);
  EXPECT_EQ(value(s, "gpu.temp_c", kGpu0), 37);
  EXPECT_EQ(value(s, "gpu.mem_temp_c", kGpu0), 40);
  EXPECT_DOUBLE_EQ(value(s, "gpu.power_w", kGpu0), 81.64);
  EXPECT_EQ(value(s, "gpu.power_limit_w", kGpu0), 700);
  EXPECT_GE(value(s, "gpu.energy_joules_total", kGpu0), 1000);
  EXPECT_EQ(value(s, "gpu.clock_sm_mhz", kGpu0), 345);
  EXPECT_EQ(value(s, "gpu.clock_mem_mhz", kGpu0), 3201);
  EXPECT_EQ(value(s, "gpu.clock_sm_max_mhz", kGpu0), 1980);
  EXPECT_EQ(value(s, "gpu.clock_mem_max_mhz", kGpu0), 3201);
  EXPECT_EQ(value(s, "gpu.pstate", kGpu0), 0);
  // Idle: the only clock event reason is gpu_idle; one series per reason.
  EXPECT_EQ(count_metric(s, "gpu.throttle"), 9u);
  EXPECT_EQ(value(s, "gpu.throttle", {{"gpu", "0"}, {"reason", "gpu_idle"}}), 1);
  for (const char* reason : {"sw_power_cap", "hw_slowdown", "sw_thermal_slowdown",
                             "hw_thermal_slowdown", "hw_power_brake", "sync_boost"})
    EXPECT_EQ(value(s, "gpu.throttle", {{"gpu", "0"}, {"reason", reason}}), 0) << reason;
  EXPECT_EQ(count_metric(s, "gpu.throttle_seconds_total"), 6u);
  EXPECT_EQ(value(s, "gpu.throttle_seconds_total", {{"gpu", "0"}, {"reason", "power"}}), 0);
  EXPECT_EQ(value(s, "gpu.ecc_corrected_errors", kGpu0), 0);
  EXPECT_EQ(value(s, "gpu.ecc_uncorrected_errors", kGpu0), 0);
  EXPECT_EQ(value(s, "gpu.remapped_rows_pending", kGpu0), 0);
  EXPECT_EQ(value(s, "gpu.remapped_rows_failed", kGpu0), 0);
  EXPECT_EQ(value(s, "gpu.remapped_rows_correctable", kGpu0), 0);
  EXPECT_EQ(value(s, "gpu.remapped_rows_uncorrectable", kGpu0), 0);
  EXPECT_EQ(value(s, "gpu.pcie_link_gen", kGpu0), 5);
  EXPECT_EQ(value(s, "gpu.pcie_link_width", kGpu0), 16);
  EXPECT_EQ(value(s, "gpu.pcie_tx_bytes_per_s", kGpu0), 998 * 1024.0);
  EXPECT_EQ(value(s, "gpu.pcie_rx_bytes_per_s", kGpu0), 561 * 1024.0);
  EXPECT_EQ(value(s, "gpu.lost", kGpu0), 0);
  // No NVLink on this card and no process: left out, never 0.
  EXPECT_EQ(count_metric(s, "gpu.nvlink_tx_bytes_per_s"), 0u);
  EXPECT_EQ(count_metric(s, "gpu.process_mem_mb"), 0u);
  EXPECT_EQ(count_notices(r.notices, "NVLink throughput not supported"), 1u);
  for (const auto& x : s)
    EXPECT_EQ(x.ts_ms, 1000);

  json info = c.gpus_info();
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0]["name"], "NVIDIA H200");
  EXPECT_EQ(info[0]["uuid"], "GPU-00000000-0000-0000-0000-000000000000");
  EXPECT_EQ(info[0]["vbios"], "96.00.A5.00.1A");
  EXPECT_EQ(info[0]["compute_mode"], "default");
  EXPECT_EQ(info[0]["mig_mode"], "disabled");
  EXPECT_EQ(info[0]["power_limit_w"], 700);
  EXPECT_EQ(info[0]["max_clock_sm_mhz"], 1980);
  EXPECT_EQ(info[0]["max_clock_mem_mhz"], 3201);
  EXPECT_NEAR(info[0]["vram_mb"].get<double>(), 143771, 1e-6);
  EXPECT_EQ(c.driver_version(), "580.159.04");
  EXPECT_EQ(c.cuda_version(), "13.0");

  // The energy counter only grows; a field said once is not said again.
  auto r2 = c.collect(2000, 2.0);
  EXPECT_GE(value(r2.samples, "gpu.energy_joules_total", kGpu0),
            value(s, "gpu.energy_joules_total", kGpu0));
  EXPECT_TRUE(r2.notices.empty());
}

TEST(AgentNvml, UnderLoadShowsThePowerCapAndTheProcess) {
  auto lib = open_fake(kScenarios / "h200-load.json");
  ASSERT_TRUE(lib);
  NvmlCollector c(*lib, {});
  auto s = c.collect(1, 1.0).samples;
  EXPECT_EQ(value(s, "gpu.util", kGpu0), 100);
  EXPECT_DOUBLE_EQ(value(s, "gpu.power_w", kGpu0), 692);
  EXPECT_EQ(value(s, "gpu.temp_c", kGpu0), 61);
  EXPECT_EQ(value(s, "gpu.clock_sm_mhz", kGpu0), 1440);
  EXPECT_EQ(value(s, "gpu.throttle", {{"gpu", "0"}, {"reason", "sw_power_cap"}}), 1);
  EXPECT_EQ(value(s, "gpu.throttle", {{"gpu", "0"}, {"reason", "gpu_idle"}}), 0);
  EXPECT_DOUBLE_EQ(value(s, "gpu.throttle_seconds_total", {{"gpu", "0"}, {"reason", "power"}}), 5);
  ASSERT_EQ(count_metric(s, "gpu.process_mem_mb"), 1u);
  const Sample* p = nullptr;
  for (const auto& x : s)
    if (x.metric == "gpu.process_mem_mb") p = &x;
  EXPECT_EQ(p->labels.at("gpu"), "0");
  EXPECT_EQ(p->labels.at("process"), "python3");
  EXPECT_FALSE(p->labels.at("pid").empty());
  EXPECT_EQ(p->value, 70000);
}

TEST(AgentNvml, EightGpusAndTheNodesTopProcesses) {
  auto lib = open_fake(kScenarios / "eight.json");
  ASSERT_TRUE(lib);
  NvmlCollectorOptions o;
  o.top_processes = 10;
  NvmlCollector c(*lib, o);
  auto r = c.collect(1, 1.0);
  EXPECT_EQ(r.gpus, 8u);
  for (int i = 0; i < 8; ++i) {
    const Labels g = {{"gpu", std::to_string(i)}};
    EXPECT_TRUE(find(r.samples, "gpu.util", g)) << i;
    EXPECT_TRUE(find(r.samples, "gpu.temp_c", g)) << i;
  }
  EXPECT_EQ(c.gpus_info().size(), 8u);
  // 12 processes in the scenario: the 10 largest are sent, largest first.
  std::vector<double> mib;
  for (const auto& x : r.samples)
    if (x.metric == "gpu.process_mem_mb") mib.push_back(x.value);
  ASSERT_EQ(mib.size(), 10u);
  EXPECT_TRUE(std::is_sorted(mib.rbegin(), mib.rend()));

  o.top_processes = 3;
  NvmlCollector three(*lib, o);
  EXPECT_EQ(count_metric(three.collect(1, 1.0).samples, "gpu.process_mem_mb"), 3u);
  o.top_processes = 0;
  NvmlCollector none(*lib, o);
  EXPECT_EQ(count_metric(none.collect(1, 1.0).samples, "gpu.process_mem_mb"), 0u);
}

TEST(AgentNvml, MigInstancesAreLabelledAndUtilizationLeftOutWhereNvmlHasNone) {
  auto lib = open_fake(kScenarios / "mig.json");
  ASSERT_TRUE(lib);
  NvmlCollector c(*lib, {});
  auto r = c.collect(1, 1.0);
  size_t mig_memory = 0;
  for (const auto& x : r.samples)
    if (x.metric == "gpu.mem_total_mb" && x.labels.count("mig")) {
      ++mig_memory;
      EXPECT_EQ(x.labels.at("gpu"), "0");
    }
  EXPECT_EQ(mig_memory, 2u);
  EXPECT_EQ(c.gpus_info()[0]["mig_mode"], "enabled");
  EXPECT_EQ(c.gpus_info()[1]["mig_mode"], "disabled");
  // GPU 1 has no MIG: no sample of it carries a mig label.
  for (const auto& x : r.samples)
    if (x.labels.count("mig")) {
      EXPECT_EQ(x.labels.at("gpu"), "0") << x.metric;
    }
}

TEST(AgentNvml, UnsupportedFieldsAreLeftOutAndSaidOnce) {
  auto lib = open_fake(kScenarios / "partial.json");
  ASSERT_TRUE(lib);
  NvmlCollector c(*lib, {});
  auto r = c.collect(1, 1.0);
  const auto& s = r.samples;
  EXPECT_EQ(count_metric(s, "gpu.mem_temp_c"), 0u);
  EXPECT_EQ(count_metric(s, "gpu.ecc_corrected_errors"), 0u);
  EXPECT_EQ(count_metric(s, "gpu.remapped_rows_pending"), 0u);
  EXPECT_EQ(count_metric(s, "gpu.retired_pages"), 0u);
  EXPECT_EQ(count_metric(s, "gpu.throttle_seconds_total"), 0u);
  EXPECT_TRUE(find(s, "gpu.temp_c", kGpu0));  // what it has is still sent
  EXPECT_TRUE(find(s, "gpu.util", kGpu0));
  EXPECT_EQ(count_notices(r.notices, "memory temperature not supported"), 1u);
  EXPECT_EQ(count_notices(r.notices, "ECC counts not supported"), 1u);
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(c.collect(2 + i, 2.0 + i).notices.empty());
}

TEST(AgentNvml, LostGpuIsSaidOnceReprobedWithBackoffAndComesBack) {
  TempScenario sc(
      {{"driver_version", "580.159.04"}, {"gpus", json::array({json::object(), json::object()})}});
  const fs::path lost = sc.dir / "gpu1-lost";
  json doc = {{"driver_version", "580.159.04"},
              {"gpus", json::array({json::object(), {{"lost_when_exists", lost.string()}}})}};
  std::ofstream(sc.file()) << doc.dump();
  auto lib = open_fake(sc.file());
  ASSERT_TRUE(lib);
  // The fake counts the calls made to a lost GPU (its handle: the library loaded above).
  void* fake = ::dlopen(FAKE_NVML_LIBRARY, RTLD_NOW | RTLD_NOLOAD);
  ASSERT_TRUE(fake);
  auto lost_calls = reinterpret_cast<int (*)(unsigned)>(::dlsym(fake, "fake_nvml_lost_calls"));
  ASSERT_TRUE(lost_calls);
  NvmlCollector c(*lib, {});
  auto r = c.collect(1, 100.0);
  EXPECT_EQ(value(r.samples, "gpu.lost", {{"gpu", "1"}}), 0);

  std::ofstream(lost).put('1');
  r = c.collect(2, 101.0);
  EXPECT_EQ(value(r.samples, "gpu.lost", {{"gpu", "1"}}), 1);
  EXPECT_EQ(count_metric(r.samples, "gpu.util"), 1u);  // GPU 0 only: no half reading of GPU 1
  EXPECT_EQ(count_notices(r.notices, "GPU 1"), 1u);
  EXPECT_EQ(count_notices(r.notices, "lost"), 1u);
  // Nine more intervals inside the first 10 s backoff: no call to the lost GPU, nothing said.
  int calls_before = lost_calls(1);
  for (int i = 1; i <= 9; ++i) {
    r = c.collect(2 + i, 101.0 + i);
    EXPECT_TRUE(r.notices.empty());
    EXPECT_EQ(value(r.samples, "gpu.lost", {{"gpu", "1"}}), 1);
    EXPECT_TRUE(find(r.samples, "gpu.util", kGpu0));
  }
  EXPECT_EQ(lost_calls(1), calls_before);
  // The probe at +10 s fails: the next one waits 20 s.
  c.collect(20, 111.5);
  EXPECT_GT(lost_calls(1), calls_before);
  calls_before = lost_calls(1);
  for (double t = 112; t < 131; t += 1)
    c.collect(21, t);
  EXPECT_EQ(lost_calls(1), calls_before);

  fs::remove(lost);
  r = c.collect(30, 132.0);
  EXPECT_EQ(value(r.samples, "gpu.lost", {{"gpu", "1"}}), 0);
  EXPECT_TRUE(find(r.samples, "gpu.util", {{"gpu", "1"}}));
  EXPECT_EQ(count_notices(r.notices, "GPU 1 is back"), 1u);
  ::dlclose(fake);
}

TEST(AgentNvml, XidErrorsAreCountedAndQueuedAsEvents) {
  TempScenario sc(json::object());
  const fs::path xid = sc.dir / "xid";
  std::ofstream(xid).flush();
  json doc = {{"driver_version", "580.159.04"},
              {"xid_file", xid.string()},
              {"gpus", json::array({json::object(), json::object()})}};
  std::ofstream(sc.file()) << doc.dump();
  auto lib = open_fake(sc.file());
  ASSERT_TRUE(lib);
  NvmlCollector c(*lib, {});
  XidWatcher w(*lib, c.handles());
  ASSERT_TRUE(w.watching());
  EXPECT_TRUE(w.counters(1).empty());
  {
    std::ofstream out(xid, std::ios::app);
    out << "0 79\n0 79\n1 48\n";
  }
  // The event thread delivers them within its wait (200 ms); bounded at 5 s.
  std::vector<XidEvent> events;
  for (int i = 0; i < 250 && events.size() < 3; ++i) {
    auto more = w.take_events();
    events.insert(events.end(), more.begin(), more.end());
    if (events.size() < 3) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].gpu, "0");
  EXPECT_EQ(events[0].code, 79u);
  EXPECT_EQ(events[2].gpu, "1");
  EXPECT_EQ(events[2].code, 48u);
  json e = events[0].to_event();
  EXPECT_EQ(e["type"], "gpu_xid");
  EXPECT_EQ(e["data"]["code"], 79);
  EXPECT_EQ(e["data"]["gpu"], "0");
  EXPECT_EQ(e["data"]["description"], "GPU has fallen off the bus");
  EXPECT_TRUE(e["ts"].is_number());
  auto counters = w.counters(5);
  EXPECT_EQ(value(counters, "gpu.xid_errors_total", {{"gpu", "0"}, {"code", "79"}}), 2);
  EXPECT_EQ(value(counters, "gpu.xid_errors_total", {{"gpu", "1"}, {"code", "48"}}), 1);
  EXPECT_TRUE(w.take_events().empty());
  // Collection goes on beside the event thread.
  EXPECT_TRUE(find(c.collect(6, 6.0).samples, "gpu.util", kGpu0));
}

TEST(AgentNvml, ALibraryThatCannotLoadOrInitSaysWhy) {
  std::string error;
  EXPECT_FALSE(NvmlLibrary::open("/nonexistent/libnvidia-ml.so.1", error));
  EXPECT_NE(error.find("/nonexistent/libnvidia-ml.so.1"), std::string::npos) << error;

  TempScenario sc({{"init_error", 9}, {"gpus", json::array()}});
  ::setenv("METRICSD_FAKE_NVML_SCENARIO", sc.file().c_str(), 1);
  error.clear();
  EXPECT_FALSE(NvmlLibrary::open(FAKE_NVML_LIBRARY, error));
  EXPECT_NE(error.find("nvmlInit"), std::string::npos) << error;

  // Not NVML at all: the C library has none of its symbols.
  error.clear();
  EXPECT_FALSE(NvmlLibrary::open("libc.so.6", error));
  EXPECT_NE(error.find("nvmlInit_v2"), std::string::npos) << error;
}

}  // namespace
}  // namespace metricsd::tools
