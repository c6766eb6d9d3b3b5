// The agent's SystemCollector on fixture roots (two /proc snapshots, a sysfs tree with
// good and bad sensors) and a fake nvidia-smi; the command runner's deadline and bounds.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "tools/agent/command_runner.hpp"
#include "tools/agent/sysfs_temps.hpp"
#include "tools/agent/system_collector.hpp"

namespace metricsd::tools {
namespace {

namespace fs = std::filesystem;
const fs::path kFixtures = fs::path(METRICSD_SOURCE_DIR) / "tests/fixtures/agent";

// A scratch /proc root holding a copy of proc1, later overwritten with proc2.
class ProcRoot {
 public:
  ProcRoot() {
    path_ = fs::temp_directory_path() / ("agent-proc-" + std::to_string(::getpid()) + "-" +
                                         std::to_string(std::random_device{}()));
    load("proc1");
  }
  ~ProcRoot() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  void load(const std::string& snapshot) {
    fs::copy(kFixtures / snapshot, path_,
             fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

const Sample* find(const std::vector<Sample>& s, const std::string& metric, const std::string& key,
                   const std::string& value) {
  for (const auto& x : s)
    if (x.metric == metric && x.labels.count(key) && x.labels.at(key) == value) return &x;
  return nullptr;
}

CollectorConfig config_for(const ProcRoot& root) {
  CollectorConfig c;
  c.proc_root = root.path();
  c.sys_root = kFixtures / "sys";
  c.per_core = true;
  return c;
}

TEST(AgentCollector, FirstCollectionHasLevelsAndTheSecondAddsRates) {
  ProcRoot root;
  SystemCollector collector(config_for(root));
  Collection first = collector.collect(1000, 100.0);
  EXPECT_FALSE(first.unlabelled.count("system.cpu_util"));
  EXPECT_DOUBLE_EQ(first.unlabelled.at("system.load1"), 0.5);
  EXPECT_DOUBLE_EQ(first.unlabelled.at("system.mem_used_pct"), 75.0);
  EXPECT_DOUBLE_EQ(first.unlabelled.at("system.swap_used_pct"), 25.0);
  EXPECT_EQ(find(first.labelled, "disk.read_bytes_per_s", "device", "sda"), nullptr);

  root.load("proc2");
  Collection second = collector.collect(3000, 102.0);
  EXPECT_EQ(second.ts_ms, 3000);
  EXPECT_NEAR(second.unlabelled.at("system.cpu_util"), 100.0 * 800 / 1500, 1e-9);
  ASSERT_TRUE(find(second.labelled, "system.cpu_util", "core", "1"));
  EXPECT_NEAR(find(second.labelled, "system.cpu_util", "core", "1")->value, 40.0, 1e-9);
  EXPECT_DOUBLE_EQ(find(second.labelled, "disk.read_bytes_per_s", "device", "sda")->value, 524288);
  EXPECT_DOUBLE_EQ(find(second.labelled, "disk.write_bytes_per_s", "device", "sda")->value,
                   1048576);
  EXPECT_EQ(find(second.labelled, "disk.read_bytes_per_s", "device", "nvme0n1"), nullptr);
  EXPECT_DOUBLE_EQ(find(second.labelled, "net.rx_bytes_per_s", "iface", "eth0")->value, 1e6);
  EXPECT_DOUBLE_EQ(find(second.labelled, "net.tx_bytes_per_s", "iface", "eth0")->value, 1e5);
  EXPECT_EQ(find(second.labelled, "net.rx_bytes_per_s", "iface", "lo"), nullptr);
  // The fixture's mounts name "/" (statvfs works on any machine) and a path that does not exist.
  EXPECT_TRUE(find(second.labelled, "disk.used_pct", "mount", "/"));
  EXPECT_EQ(find(second.labelled, "disk.used_pct", "mount", "/home/my data"), nullptr);
  for (const auto& s : second.labelled)
    EXPECT_EQ(s.ts_ms, 3000) << s.metric;

  EXPECT_EQ(second.info["cpu_model"], "AMD Ryzen 9 7950X 16-Core Processor");
  EXPECT_EQ(second.info["cpu_cores"], 2);
  EXPECT_TRUE(second.info["gpus"].empty());  // no nvidia-smi configured
}

TEST(AgentCollector, SysfsTemperaturesSkipBadSensors) {
  auto temps = read_sysfs_temps(kFixtures / "sys", 5);
  ASSERT_EQ(temps.size(), 4u);
  auto zone = find(temps, "system.temp_c", "zone", "thermal_zone0");
  ASSERT_TRUE(zone);
  EXPECT_DOUBLE_EQ(zone->value, 45.0);
  EXPECT_EQ(zone->labels.at("type"), "x86_pkg_temp");
  EXPECT_EQ(find(temps, "system.temp_c", "zone", "thermal_zone1"), nullptr);  // garbage
  EXPECT_DOUBLE_EQ(find(temps, "system.temp_c", "sensor", "coretemp/Package id 0")->value, 52.0);
  EXPECT_DOUBLE_EQ(find(temps, "system.temp_c", "sensor", "coretemp/temp2")->value, 48.5);
  EXPECT_DOUBLE_EQ(find(temps, "system.temp_c", "sensor", "hwmon1/temp1")->value, -5.0);
  EXPECT_TRUE(read_sysfs_temps("/nonexistent-sys-root", 0).empty());
}

TEST(AgentCollector, MissingProcRootGivesNoSamplesAndNoCrash) {
  CollectorConfig c;
  c.proc_root = "/nonexistent-proc-root";
  c.sys_root = "/nonexistent-sys-root";
  SystemCollector collector(c);
  collector.collect(1, 1);
  Collection second = collector.collect(2, 2);
  EXPECT_TRUE(second.unlabelled.empty());
  EXPECT_TRUE(second.labelled.empty());
}

TEST(AgentCollector, FakeNvidiaSmiGivesLabelledGpuSamplesAndInfo) {
  ProcRoot root;
  CollectorConfig c = config_for(root);
  c.nvidia_smi = (kFixtures / "bin/nvidia-smi").string();
  SystemCollector collector(c);
  ::setenv("FAKE_NVIDIA_SMI_OUTPUT", "garbage.csv", 1);
  Collection col = collector.collect(10, 1);
  ::unsetenv("FAKE_NVIDIA_SMI_OUTPUT");
  EXPECT_EQ(col.gpu_error, "");
  EXPECT_EQ(col.gpu_garbage_lines, 4u);
  EXPECT_DOUBLE_EQ(find(col.labelled, "gpu.util", "gpu", "0")->value, 88);
  EXPECT_EQ(find(col.labelled, "gpu.util", "gpu", "2"), nullptr);
  EXPECT_DOUBLE_EQ(col.unlabelled.at("gpu.count"), 2);
  ASSERT_EQ(col.info["gpus"].size(), 2u);
  EXPECT_EQ(col.info["gpus"][0]["name"], "NVIDIA A100-SXM4-80GB");
  EXPECT_EQ(col.info["gpus"][0]["vram_mb"], 81920);
}

TEST(AgentCollector, FailingOrHangingNvidiaSmiIsBoundedAndReported) {
  ProcRoot root;
  CollectorConfig c = config_for(root);
  c.nvidia_smi = (kFixtures / "bin/nvidia-smi").string();
  c.gpu_timeout = std::chrono::milliseconds(300);
  SystemCollector collector(c);
  ::setenv("FAKE_NVIDIA_SMI_MODE", "fail", 1);
  EXPECT_EQ(collector.collect(1, 1).gpu_error, "exit code 9");
  ::setenv("FAKE_NVIDIA_SMI_MODE", "hang", 1);
  auto t0 = std::chrono::steady_clock::now();
  Collection col = collector.collect(2, 2);
  auto took = std::chrono::steady_clock::now() - t0;
  ::unsetenv("FAKE_NVIDIA_SMI_MODE");
  EXPECT_EQ(col.gpu_error, "timed out");
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_EQ(find(col.labelled, "gpu.util", "gpu", "0"), nullptr);
  EXPECT_TRUE(col.unlabelled.count("system.load1"));  // the rest still collected
}

TEST(AgentCommandRunner, CapturesOutputPassesStdinAndExitCode) {
  auto r = run_command({{"/bin/sh", "-c", "cat; echo err >&2; exit 4"},
                        "hello\n",
                        std::chrono::seconds(5),
                        1 << 20});
  EXPECT_TRUE(r.started);
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.out, "hello\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST(AgentCommandRunner, ChildGetsNoInheritedDescriptorsBeyondStdio) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);  // without O_CLOEXEC, like a socket Asio opened
  const std::string check = "[ -e /proc/$$/fd/" + std::to_string(p[1]) + " ]";
  auto r = run_command({{"/bin/sh", "-c", check}, "", std::chrono::seconds(5), 1024});
  ::close(p[0]);
  ::close(p[1]);
  EXPECT_EQ(r.exit_code, 1);
}

TEST(AgentCommandRunner, DeadlineKillsTheWholeProcessGroup) {
  auto t0 = std::chrono::steady_clock::now();
  auto r = run_command(
      {{"/bin/sh", "-c", "sleep 20 & sleep 20"}, "", std::chrono::milliseconds(200), 1024});
  EXPECT_TRUE(r.timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
}

TEST(AgentCommandRunner, OutputIsBoundedAndMissingProgramsFail) {
  auto r = run_command(
      {{"/bin/sh", "-c", "head -c 100000 /dev/zero"}, "", std::chrono::seconds(5), 1000});
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.out.size(), 1000u);
  EXPECT_TRUE(r.out_truncated);
  auto missing = run_command({{"/nonexistent/program"}, "", std::chrono::seconds(5), 1000});
  EXPECT_FALSE(missing.ok());
  EXPECT_EQ(missing.exit_code, 127);
  EXPECT_EQ(find_on_path("/nonexistent/program"), "");
  EXPECT_EQ(find_on_path("sh").empty(), false);
}

}  // namespace
}  // namespace metricsd::tools
