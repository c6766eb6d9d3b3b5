// metricsd-sim against the real daemon: a few seconds with a small fleet registers every node
// (online, with its mode and throttle in the heartbeat state), fills the llm, train, neural
// and language categories, applies a pause command from a heartbeat answer, and reports
// what it sent as text and JSON.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "harness.hpp"
#include "tool_process.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

TEST(Simulator, SmallFleetShowsUpInTheSummary) {
  TempDir dir;
  Daemon daemon(dir.path());
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  {  // An operator paused one node before the run: its first heartbeat answer carries it.
    pqxx::connection c("host=" + dir.path().string() +
                       "/run port=5432 user=postgres dbname=metricsd");
    pqxx::nontransaction tx(c);
    tx.exec("INSERT INTO commands (node_id, type) VALUES ('sim-gen-0002', 'pause')");
  }
  const auto report_path = dir.path() / "report.json";
  ToolProcess sim(METRICSD_SIM_BINARY,
                  {"--server", "http://127.0.0.1:" + std::to_string(daemon.port()), "--nodes", "10",
                   "--interval-s", "0.5", "--duration", "2s", "--seed", "7", "--token-file",
                   (dir.path() / "admin.token").string(), "--report-json", report_path.string()});
  ASSERT_EQ(sim.wait_exit(30s), 0) << sim.log();
  EXPECT_EQ(sim.count_in_log("metricsd-sim: 10 nodes,"), 1u) << sim.log();

  std::ifstream in(report_path);
  json report = json::parse(in, nullptr, false);
  ASSERT_TRUE(report.is_object());
  EXPECT_GT(report["total"]["requests"].get<int>(), 10);
  EXPECT_EQ(report["total"]["failed"], 0) << report.dump();
  EXPECT_EQ(report["total"]["ok"], report["total"]["requests"]);
  EXPECT_TRUE(report["by_kind"].contains("generation"));
  EXPECT_TRUE(report["by_kind"].contains("training"));
  EXPECT_TRUE(report["by_kind"].contains("pi"));

  auto r = http_request(daemon.port(), "GET", "/api/v1/summary");
  ASSERT_EQ(r.status, 200);
  json summary = json::parse(r.body);
  EXPECT_EQ(summary["nodes"]["total"], 10) << summary.dump();
  EXPECT_EQ(summary["nodes"]["online"], 10);
  for (const char* cat : {"llm", "train", "neural", "language", "gpu", "system"})
    EXPECT_TRUE(summary["categories"].contains(cat)) << cat << " " << summary.dump();
  EXPECT_GT(summary["categories"]["llm"]["sum"]["llm.tokens_per_s"].get<double>(), 0);

  json node = json::parse(http_request(daemon.port(), "GET", "/api/v1/nodes/sim-gen-0001").body);
  EXPECT_EQ(node["type"], "generation");
  const std::string mode = node["state"]["mode"];
  EXPECT_TRUE(mode == "idle" || mode == "work" || mode == "gaming") << mode;
  EXPECT_GT(node["state"]["throttle"].get<double>(), 0);
  EXPECT_EQ(report["total"]["commands"], 1);
  json paused = json::parse(http_request(daemon.port(), "GET", "/api/v1/nodes/sim-gen-0002").body);
  EXPECT_EQ(paused["state"]["mode"], "paused") << paused.dump();
  EXPECT_EQ(paused["latest"]["llm.tokens_per_s"], 0.0);
  json experts =
      json::parse(http_request(daemon.port(), "GET",
                               "/api/v1/latest?metric=neural.expert_activation&node=sim-train-0006")
                      .body);
  EXPECT_EQ(experts.size(), 8u);
}

// The simulator's cliffs (tokens/s halving within a second here) fire a cliff rule's
// alert on generation nodes, and only there.
TEST(Simulator, CliffsFireCliffAlerts) {
  TempDir dir;
  Daemon daemon(dir.path());
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  auto r = http_request(daemon.port(), "POST", "/api/v1/alerts/rules",
                        R"({"name":"tokens cliff","kind":"cliff","metric":"llm.tokens_per_s",
                            "agg":"avg","window":"3s","levels":{"critical":30}})",
                        {{"Content-Type", "application/json"}});
  ASSERT_EQ(r.status, 201) << r.body;
  ToolProcess sim(METRICSD_SIM_BINARY,
                  {"--server", "http://127.0.0.1:" + std::to_string(daemon.port()), "--nodes", "10",
                   "--interval-s", "0.5", "--duration", "10s", "--seed", "3", "--cliffs-per-hour",
                   "3600", "--cliff-ramp-s", "1", "--outages-per-hour", "0", "--token-file",
                   (dir.path() / "admin.token").string()});
  json fired;
  EXPECT_TRUE(eventually(
      [&] {
        fired = json::parse(
            http_request(daemon.port(), "GET", "/api/v1/alerts/history?limit=1000").body);
        for (const auto& h : fired["history"])
          if (h["rule"] == "tokens cliff" && h["event"] == "firing") return true;
        return false;
      },
      30s))
      << fired.dump();
  for (const auto& h : fired["history"]) {
    std::string node = h["node"];
    EXPECT_EQ(node.rfind("sim-gen-", 0), 0u) << h.dump();
  }
  EXPECT_EQ(sim.wait_exit(30s), 0) << sim.log();
}

}  // namespace
}  // namespace metricsd::test
