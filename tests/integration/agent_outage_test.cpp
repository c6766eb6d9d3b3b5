// metricsd-agent through a server outage: the daemon is stopped with SIGTERM while the agent
// keeps collecting into its buffer, then restarted on the same data dir and port; the
// samples collected during the outage arrive with their own timestamps.
#include <gtest/gtest.h>

#include <signal.h>

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/clock.hpp"
#include "harness.hpp"
#include "tool_process.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// Samples of system.load1 from the node in [from_ms, to_ms), counted per second by the daemon.
double samples_between(int port, int64_t from_ms, int64_t to_ms) {
  auto r =
      http_request(port, "GET",
                   "/api/v1/query?metric=system.load1&node=agent-outage&agg=count&step=1s&from=" +
                       std::to_string(from_ms / 1000.0) + "&to=" + std::to_string(to_ms / 1000.0));
  if (r.status != 200) return -1;
  const json answer = json::parse(r.body);  // kept alive for the loop below
  double n = 0;
  for (const auto& s : answer["series"])
    for (const auto& p : s["points"])
      n += p[1].get<double>();
  return n;
}

TEST(AgentOutage, SamplesCollectedWhileTheServerIsDownArriveAfterItReturns) {
  TempDir dir;
  const int port = free_port();
  const std::vector<std::string> args = {"--listen", "127.0.0.1:" + std::to_string(port)};
  auto daemon = std::make_unique<Daemon>(dir.path(), args);
  ASSERT_TRUE(daemon->wait_ready()) << daemon->log();
  ASSERT_EQ(daemon->port(), port);

  ToolProcess agent(METRICSD_AGENT_BINARY,
                    {"--server", "http://127.0.0.1:" + std::to_string(port), "--node",
                     "agent-outage", "--interval-s", "0.25", "--token-file",
                     (dir.path() / "admin.token").string(), "--request-timeout-s", "2"});
  ASSERT_TRUE(eventually(
      [&] { return samples_between(port, wall_ms() - 60000, wall_ms() + 1000) > 0; }, 10s))
      << agent.log();

  daemon->signal(SIGTERM);
  ASSERT_EQ(daemon->wait_exit(30s), 0);
  const int64_t down_ms = wall_ms();
  std::this_thread::sleep_for(1500ms);
  const int64_t up_ms = wall_ms();
  daemon = std::make_unique<Daemon>(dir.path(), args);
  ASSERT_TRUE(daemon->wait_ready()) << daemon->log();

  // About six collections fell in the 1.5 s outage; every one of them arrives (backoff
  // after the outage is at most a few seconds).
  double n = 0;
  EXPECT_TRUE(eventually(
      [&] {
        n = samples_between(port, down_ms, up_ms);
        return n >= 4;
      },
      20s))
      << "samples in the outage window: " << n << "\n"
      << agent.log();
  EXPECT_GE(agent.count_in_log("buffering and retrying"), 1u);
  EXPECT_TRUE(eventually([&] { return agent.count_in_log("server reachable again") >= 1; }, 10s))
      << agent.log();
  agent.signal(SIGTERM);
  EXPECT_EQ(agent.wait_exit(10s), 0) << agent.log();
}

}  // namespace
}  // namespace metricsd::test
