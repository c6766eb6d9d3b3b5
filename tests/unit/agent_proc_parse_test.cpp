// The agent's /proc parsers on recorded fixtures (tests/fixtures/agent/): two snapshots for
// the rates, malformed and truncated files that must be skipped, never fatal.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tools/agent/proc_parse.hpp"

namespace metricsd::tools {
namespace {

std::string fixture(const std::string& rel) {
  std::ifstream in(std::string(METRICSD_SOURCE_DIR) + "/tests/fixtures/agent/" + rel);
  EXPECT_TRUE(in) << rel;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(AgentProcStat, TwoSnapshotsGiveTotalAndPerCoreUtilization) {
  auto a = parse_proc_stat(fixture("proc1/stat"));
  auto b = parse_proc_stat(fixture("proc2/stat"));
  ASSERT_TRUE(a && b);
  ASSERT_EQ(a->cores.size(), 2u);
  EXPECT_NEAR(*cpu_util_pct(a->total, b->total), 100.0 * 800 / 1500, 1e-9);
  EXPECT_NEAR(*cpu_util_pct(a->cores[0], b->cores[0]), 100.0 * 500 / 750, 1e-9);
  EXPECT_NEAR(*cpu_util_pct(a->cores[1], b->cores[1]), 40.0, 1e-9);
}

TEST(AgentProcStat, NoTimePassedOrCountersBackwardsGiveNoValue) {
  auto a = parse_proc_stat(fixture("proc1/stat"));
  auto b = parse_proc_stat(fixture("proc2/stat"));
  EXPECT_FALSE(cpu_util_pct(a->total, a->total));
  EXPECT_FALSE(cpu_util_pct(b->total, a->total));
}

TEST(AgentProcStat, TruncatedFileKeepsTheTotalAndTheContiguousCores) {
  auto s = parse_proc_stat(fixture("malformed/stat_truncated"));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->total.busy, 1500u);
  EXPECT_EQ(s->cores.size(), 1u);  // cpu2 is cut off, cpu1 absent: only cpu0 counts
}

TEST(AgentProcStat, MissingOrGarbageTotalLineIsNoReading) {
  EXPECT_FALSE(parse_proc_stat(fixture("malformed/stat_no_total")));
  EXPECT_FALSE(parse_proc_stat(fixture("malformed/stat_garbage")));
  EXPECT_FALSE(parse_proc_stat(""));
}

TEST(AgentLoadavg, ParsesThreeAveragesAndRefusesShortLines) {
  auto l = parse_loadavg(fixture("proc1/loadavg"));
  ASSERT_TRUE(l);
  EXPECT_DOUBLE_EQ((*l)[0], 0.5);
  EXPECT_DOUBLE_EQ((*l)[2], 1.0);
  EXPECT_FALSE(parse_loadavg(fixture("malformed/loadavg_short")));
  EXPECT_FALSE(parse_loadavg(""));
}

TEST(AgentMeminfo, UsesMemAvailableAndSwap) {
  auto m = parse_meminfo(fixture("proc1/meminfo"));
  ASSERT_TRUE(m);
  EXPECT_DOUBLE_EQ(m->mem_total_kb, 16000000);
  EXPECT_DOUBLE_EQ(m->mem_available_kb, 4000000);
  EXPECT_DOUBLE_EQ(m->swap_total_kb - m->swap_free_kb, 500000);
}

TEST(AgentMeminfo, OldKernelFallsBackToFreePlusCachesAndNoTotalIsNoReading) {
  auto m = parse_meminfo(fixture("malformed/meminfo_old_kernel"));
  ASSERT_TRUE(m);
  EXPECT_DOUBLE_EQ(m->mem_available_kb, 300);
  EXPECT_FALSE(parse_meminfo(fixture("malformed/meminfo_no_total")));
}

TEST(AgentMounts, KeepsRealFileSystemsOnceWithDecodedNames) {
  auto mounts = parse_mounts(fixture("proc1/mounts"));
  std::vector<std::string> points;
  for (const auto& m : mounts)
    points.push_back(m.mount_point);
  EXPECT_EQ(points, (std::vector<std::string>{"/", "/home/my data", "/boot/efi"}));
  EXPECT_EQ(mounts[0].device, "/dev/sda1");
  EXPECT_EQ(mounts[2].fs_type, "vfat");
}

TEST(AgentMounts, ContainerRootOnOverlayIsKept) {
  auto mounts = parse_mounts(
      "overlay / overlay rw,lowerdir=/x 0 0\nproc /proc proc rw 0 0\n"
      "/dev/vda1 /etc/hosts ext4 rw 0 0\ntmpfs /dev tmpfs rw 0 0\n");
  ASSERT_EQ(mounts.size(), 2u);
  EXPECT_EQ(mounts[0].mount_point, "/");
  EXPECT_EQ(mounts[0].fs_type, "overlay");
  EXPECT_EQ(mounts[1].mount_point, "/etc/hosts");
}

TEST(AgentDiskstats, RatesInBytesPerSecondSkipLoopAndResets) {
  auto a = parse_diskstats(fixture("proc1/diskstats"));
  auto b = parse_diskstats(fixture("proc2/diskstats"));
  EXPECT_FALSE(a.count("loop0"));
  ASSERT_TRUE(a.count("sda") && b.count("sda"));
  EXPECT_DOUBLE_EQ(*counter_rate(a["sda"].sectors_read, b["sda"].sectors_read, 2.0) * 512, 524288);
  EXPECT_DOUBLE_EQ(*counter_rate(a["sda"].sectors_written, b["sda"].sectors_written, 2.0) * 512,
                   1048576);
  // nvme0n1's counters went backwards (a reset): no rate this interval.
  EXPECT_FALSE(counter_rate(a["nvme0n1"].sectors_read, b["nvme0n1"].sectors_read, 2.0));
  EXPECT_FALSE(counter_rate(1, 2, 0));
}

TEST(AgentDiskstats, PartitionsOfListedDisksAreLeftOut) {
  auto a = parse_diskstats(fixture("proc1/diskstats"));
  EXPECT_FALSE(a.count("sda1"));
  EXPECT_FALSE(a.count("nvme0n1p1"));
  auto b = parse_diskstats(
      "179 0 mmcblk0 1 0 2 0 1 0 2 0 0 0 0\n179 1 mmcblk0p1 1 0 2 0 1 0 2 0 0 0 0\n"
      "9 0 md0 1 0 2 0 1 0 2 0 0 0 0\n253 0 dm-0 1 0 2 0 1 0 2 0 0 0 0\n"
      "8 17 sdb1 1 0 2 0 1 0 2 0 0 0 0\n");
  std::vector<std::string> names;
  for (const auto& [name, c] : b)
    names.push_back(name);
  // sdb1's disk is not listed (a container may see only the partition): it stays.
  EXPECT_EQ(names, (std::vector<std::string>{"dm-0", "md0", "mmcblk0", "sdb1"}));
}

TEST(AgentDiskstats, ShortAndNonNumericLinesAreSkipped) {
  EXPECT_TRUE(parse_diskstats(fixture("malformed/diskstats_short")).empty());
}

TEST(AgentNetDev, RatesPerInterfaceWithoutLoopback) {
  auto a = parse_net_dev(fixture("proc1/net/dev"));
  auto b = parse_net_dev(fixture("proc2/net/dev"));
  EXPECT_FALSE(a.count("lo"));
  ASSERT_EQ(a.size(), 2u);
  EXPECT_DOUBLE_EQ(*counter_rate(a["eth0"].rx_bytes, b["eth0"].rx_bytes, 2.0), 1e6);
  EXPECT_DOUBLE_EQ(*counter_rate(a["eth0"].tx_bytes, b["eth0"].tx_bytes, 2.0), 1e5);
  EXPECT_DOUBLE_EQ(*counter_rate(a["wlan0"].rx_bytes, b["wlan0"].rx_bytes, 2.0), 0);
}

TEST(AgentNetDev, TruncatedLinesAreSkipped) {
  EXPECT_TRUE(parse_net_dev(fixture("malformed/net_dev_truncated")).empty());
}

TEST(AgentCpuinfo, ModelAndCoresOnX86AndRaspberryPi) {
  auto x86 = parse_cpuinfo(fixture("proc1/cpuinfo"));
  EXPECT_EQ(x86.model, "AMD Ryzen 9 7950X 16-Core Processor");
  EXPECT_EQ(x86.cores, 2);
  auto pi = parse_cpuinfo(fixture("malformed/cpuinfo_pi"));
  EXPECT_EQ(pi.model, "Raspberry Pi 4 Model B Rev 1.4");
  EXPECT_EQ(pi.cores, 2);
}

TEST(AgentSysfs, MillidegreesInRangeOnly) {
  EXPECT_DOUBLE_EQ(*parse_millidegrees("45000\n"), 45.0);
  EXPECT_DOUBLE_EQ(*parse_millidegrees("-5000"), -5.0);
  EXPECT_FALSE(parse_millidegrees("garbage"));
  EXPECT_FALSE(parse_millidegrees("999999999"));
  EXPECT_FALSE(parse_millidegrees(""));
}

}  // namespace
}  // namespace metricsd::tools
