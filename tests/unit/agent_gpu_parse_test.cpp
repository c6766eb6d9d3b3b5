// nvidia-smi CSV parsing on recorded outputs: fields it cannot report are left out, lines that
// are not GPU rows are skipped and counted, no GPU at all is no samples.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "tools/agent/gpu_parse.hpp"

namespace metricsd::tools {
namespace {

std::string fixture(const std::string& name) {
  std::ifstream in(std::string(METRICSD_SOURCE_DIR) + "/tests/fixtures/agent/nvidia-smi/" + name);
  EXPECT_TRUE(in) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const Sample* find(const std::vector<Sample>& s, const std::string& metric,
                   const std::string& gpu) {
  for (const auto& x : s)
    if (x.metric == metric && x.labels.at("gpu") == gpu) return &x;
  return nullptr;
}

TEST(AgentGpuParse, TwoGpusWithUnsupportedFieldsLeftOut) {
  auto r = parse_nvidia_smi(fixture("two_gpus.csv"));
  EXPECT_EQ(r.garbage_lines, 0u);
  ASSERT_EQ(r.gpus.size(), 2u);
  EXPECT_EQ(r.gpus[0].name, "NVIDIA GeForce RTX 4090");
  EXPECT_DOUBLE_EQ(*r.gpus[0].power_w, 350.25);
  EXPECT_FALSE(r.gpus[1].power_w);       // [N/A]
  EXPECT_FALSE(r.gpus[1].clock_sm_mhz);  // [Not Supported]
  EXPECT_DOUBLE_EQ(*r.gpus[1].clock_mem_mhz, 10501);

  auto s = gpu_samples(r.gpus, 1795600000000);
  ASSERT_TRUE(find(s, "gpu.util", "0"));
  EXPECT_DOUBLE_EQ(find(s, "gpu.util", "0")->value, 93);
  EXPECT_DOUBLE_EQ(find(s, "gpu.temp_c", "1")->value, 38);
  EXPECT_NEAR(find(s, "gpu.mem_used_pct", "0")->value, 100.0 * 20480 / 24564, 1e-9);
  EXPECT_EQ(find(s, "gpu.power_w", "1"), nullptr);
  EXPECT_EQ(find(s, "gpu.clock_sm_mhz", "1"), nullptr);
  EXPECT_EQ(find(s, "gpu.util", "0")->ts_ms, 1795600000000);
}

TEST(AgentGpuParse, GarbageLinesAreSkippedAndCounted) {
  auto r = parse_nvidia_smi(fixture("garbage.csv"));
  EXPECT_EQ(r.garbage_lines, 4u);
  ASSERT_EQ(r.gpus.size(), 2u);
  EXPECT_EQ(r.gpus[1].index, "2");
  EXPECT_FALSE(r.gpus[1].util_pct);  // "abc"
  EXPECT_DOUBLE_EQ(*r.gpus[1].temp_c, 66);
}

TEST(AgentGpuParse, NoGpuMeansNoSamples) {
  EXPECT_TRUE(parse_nvidia_smi("").gpus.empty());
  auto r = parse_nvidia_smi(fixture("no_devices.csv"));
  EXPECT_TRUE(r.gpus.empty());
  EXPECT_EQ(r.garbage_lines, 1u);
  EXPECT_TRUE(gpu_samples(r.gpus, 0).empty());
}

}  // namespace
}  // namespace metricsd::tools

namespace metricsd::tools {
namespace {

// The recordings of a real H200 (driver 580, ../shared/fixtures/gpu-h200): idle, and once
// a second while a matrix-product loop drove it to its 700 W power cap.
TEST(AgentGpuParse, RecordedH200IdleAndUnderLoad) {
  auto idle = parse_nvidia_smi(fixture("h200-idle.csv"));
  EXPECT_EQ(idle.garbage_lines, 0u);
  ASSERT_EQ(idle.gpus.size(), 1u);
  EXPECT_EQ(idle.gpus[0].name, "NVIDIA H200");
  auto s = gpu_samples(idle.gpus, 1);
  EXPECT_DOUBLE_EQ(find(s, "gpu.util", "0")->value, 0);
  EXPECT_DOUBLE_EQ(find(s, "gpu.temp_c", "0")->value, 37);
  EXPECT_DOUBLE_EQ(find(s, "gpu.mem_used_mb", "0")->value, 0);
  EXPECT_DOUBLE_EQ(find(s, "gpu.mem_total_mb", "0")->value, 143771);
  EXPECT_DOUBLE_EQ(find(s, "gpu.mem_used_pct", "0")->value, 0);
  EXPECT_DOUBLE_EQ(find(s, "gpu.power_w", "0")->value, 81.19);
  EXPECT_DOUBLE_EQ(find(s, "gpu.clock_sm_mhz", "0")->value, 345);
  EXPECT_DOUBLE_EQ(find(s, "gpu.clock_mem_mhz", "0")->value, 3201);

  // 24 rows and the two comment lines at the top (counted as not GPU rows).
  auto load = parse_nvidia_smi(fixture("h200-under-load.csv"));
  EXPECT_EQ(load.garbage_lines, 2u);
  ASSERT_EQ(load.gpus.size(), 24u);
  double max_util = 0, max_power = 0, max_sm = 0, max_temp = 0;
  for (const auto& g : load.gpus) {
    max_util = std::max(max_util, *g.util_pct);
    max_power = std::max(max_power, *g.power_w);
    if (*g.util_pct == 100) max_sm = std::max(max_sm, *g.clock_sm_mhz);
    max_temp = std::max(max_temp, *g.temp_c);
  }
  EXPECT_DOUBLE_EQ(*load.gpus.front().util_pct, 0);
  EXPECT_DOUBLE_EQ(max_util, 100);
  EXPECT_GT(max_power, 690);
  EXPECT_LE(max_power, 700);  // held at the power limit
  EXPECT_LT(max_sm, 1980);    // busy, below the maximum SM clock: power capping
  EXPECT_DOUBLE_EQ(max_temp, 61);
}

}  // namespace
}  // namespace metricsd::tools
