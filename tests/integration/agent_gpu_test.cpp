// metricsd-agent's GPU collection end to end: the agent loads the fake NVML
// (tests/fakes/fake_nvml.cpp, the H200 under load) through --nvml-library, and the daemon
// stores what it reads (HBM temperature, the power-cap throttle reason, the process) and
// the heartbeat's GPU info; an XID written by the fake driver becomes a gpu_xid event in
// the daemon and a per-code counter, a repeat counted again. NVML asked for and missing
// fails the start; in auto mode the agent falls back to nvidia-smi.
#include <gtest/gtest.h>

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "harness.hpp"
#include "tool_process.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

const std::string kFakeGpuPath = std::string(METRICSD_SOURCE_DIR) + "/tests/fixtures/agent/bin";

class AgentGpuTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    daemon_ = new Daemon(dir_->path(), {});
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete dir_;
  }

  static std::unique_ptr<ToolProcess> agent(const std::string& node, std::vector<std::string> extra,
                                            const std::string& scenario = "") {
    std::vector<std::string> args = {
        "--server",     "http://127.0.0.1:" + std::to_string(daemon_->port()),
        "--node",       node,
        "--interval-s", "0.25",
        "--token-file", (dir_->path() / "admin.token").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<ToolProcess>(METRICSD_AGENT_BINARY, args,
                                         std::vector<std::pair<std::string, std::string>>{
                                             {"PATH", kFakeGpuPath + ":" + std::getenv("PATH")},
                                             {"METRICSD_FAKE_NVML_SCENARIO", scenario}});
  }
  static json get_json(const std::string& target) {
    auto r = http_request(daemon_->port(), "GET", target);
    return r.status == 200 ? json::parse(r.body, nullptr, false) : json();
  }
  static std::optional<double> latest(const std::string& query) {
    json l = get_json("/api/v1/latest?" + query);
    if (!l.is_array() || l.size() != 1) return std::nullopt;
    return l[0]["value"].get<double>();
  }

  static TempDir* dir_;
  static Daemon* daemon_;
};
TempDir* AgentGpuTest::dir_ = nullptr;
Daemon* AgentGpuTest::daemon_ = nullptr;

TEST_F(AgentGpuTest, NvmlFieldsInfoAndXidEventsArrive) {
  // The H200-under-load scenario with an XID file the fake driver reads events from.
  json scenario =
      json::parse(std::ifstream(fs::path(METRICSD_SOURCE_DIR) / "tests/fakes/h200-load.json"));
  const fs::path xid = dir_->path() / "xid-events";
  std::ofstream(xid).flush();
  scenario["xid_file"] = xid.string();
  const fs::path file = dir_->path() / "h200-load-xid.json";
  std::ofstream(file) << scenario.dump();

  auto a = agent("gpu-nvml-1", {"--gpu-source", "nvml", "--nvml-library", FAKE_NVML_LIBRARY},
                 file.string());
  const std::string n = "node=gpu-nvml-1&label=gpu:0";
  ASSERT_TRUE(eventually(
      [&] {
        return latest("metric=gpu.mem_temp_c&" + n) && latest("metric=gpu.power_limit_w&" + n) &&
               latest("metric=gpu.process_mem_mb&node=gpu-nvml-1");
      },
      10s))
      << a->log();
  EXPECT_DOUBLE_EQ(*latest("metric=gpu.util&" + n), 100);
  EXPECT_DOUBLE_EQ(*latest("metric=gpu.power_w&" + n), 692);
  EXPECT_DOUBLE_EQ(*latest("metric=gpu.throttle&" + n + "&label=reason:sw_power_cap"), 1);
  EXPECT_DOUBLE_EQ(*latest("metric=gpu.throttle&" + n + "&label=reason:gpu_idle"), 0);
  EXPECT_DOUBLE_EQ(*latest("metric=gpu.lost&" + n), 0);
  EXPECT_DOUBLE_EQ(*latest("metric=gpu.process_mem_mb&node=gpu-nvml-1&label=process:python3"),
                   70000);
  json node = get_json("/api/v1/nodes/gpu-nvml-1");
  EXPECT_EQ(node["info"]["gpu_source"], "nvml");
  EXPECT_EQ(node["info"]["gpu_driver"], "580.159.04");
  EXPECT_EQ(node["info"]["gpus"][0]["name"], "NVIDIA H200");
  EXPECT_EQ(node["info"]["gpus"][0]["power_limit_w"], 700);
  EXPECT_EQ(node["info"]["gpu_processes"][0]["process"], "python3");
  EXPECT_EQ(a->count_in_log("GPUs from NVML"), 1u);

  // The fake driver reports XID 79 on GPU 0, twice.
  auto xid_events = [&] {
    json e = get_json("/api/v1/events?type=gpu_xid&node=gpu-nvml-1");
    return e.is_object() ? e["events"] : json::array();
  };
  std::ofstream(xid, std::ios::app) << "0 79\n";
  ASSERT_TRUE(eventually([&] { return xid_events().size() == 1; }, 10s)) << a->log();
  json ev = xid_events()[0];
  EXPECT_EQ(ev["node"], "gpu-nvml-1");
  EXPECT_EQ(ev["data"]["gpu"], "0");
  EXPECT_EQ(ev["data"]["code"], 79);
  EXPECT_EQ(ev["data"]["description"], "GPU has fallen off the bus");
  ASSERT_TRUE(eventually(
      [&] {
        auto v = latest("metric=gpu.xid_errors_total&" + n + "&label=code:79");
        return v && *v == 1;
      },
      10s))
      << get_json("/api/v1/latest?metric=gpu.xid_errors_total&node=gpu-nvml-1").dump() << a->log();
  std::ofstream(xid, std::ios::app) << "0 79\n";
  ASSERT_TRUE(eventually(
      [&] {
        auto v = latest("metric=gpu.xid_errors_total&" + n + "&label=code:79");
        return v && *v == 2 && xid_events().size() == 2;
      },
      10s))
      << a->log();
  EXPECT_EQ(a->count_in_log("XID 79"), 2u);
  a->signal(SIGTERM);
  EXPECT_EQ(a->wait_exit(5s), 0) << a->log();
}

TEST_F(AgentGpuTest, NvmlAskedForButMissingFailsTheStart) {
  auto a = agent("gpu-nvml-2",
                 {"--gpu-source", "nvml", "--nvml-library", "/nonexistent/libnvidia-ml.so.1"});
  EXPECT_EQ(a->wait_exit(10s), 1) << a->log();
  EXPECT_EQ(a->count_in_log("/nonexistent/libnvidia-ml.so.1"), 1u) << a->log();
}

TEST_F(AgentGpuTest, AutoFallsBackToNvidiaSmi) {
  auto a = agent("gpu-nvml-3", {"--nvml-library", "/nonexistent/libnvidia-ml.so.1"});
  ASSERT_TRUE(eventually(
      [&] { return latest("metric=gpu.util&node=gpu-nvml-3&label=gpu:1").has_value(); }, 10s))
      << a->log();
  EXPECT_EQ(a->count_in_log("NVML not usable"), 1u);
  EXPECT_EQ(get_json("/api/v1/nodes/gpu-nvml-3")["info"]["gpu_source"], "nvidia-smi");
  // No NVML-only field from the fallback.
  EXPECT_FALSE(latest("metric=gpu.mem_temp_c&node=gpu-nvml-3&label=gpu:0"));
}

}  // namespace
}  // namespace metricsd::test
