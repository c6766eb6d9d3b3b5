// metricsd-agent against the real daemon: its machine metrics (and GPUs from a fake
// nvidia-smi on PATH) arrive and the node is online; after SIGTERM (exit 0) the node goes
// stale then offline; custom line protocol from --exec and from the loopback port arrives
// with the node tag; a command in a heartbeat answer reaches the hook and is acknowledged
// (the command row is done, with the hook's output); a refused token exits
// with code 3; --once. The daemon uses short status thresholds; every run passes the
// daemon's admin.token with --token-file.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <thread>

#include "harness.hpp"
#include "tool_process.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kFakeGpuPath = std::string(METRICSD_SOURCE_DIR) + "/tests/fixtures/agent/bin";

class AgentTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    daemon_ =
        new Daemon(dir_->path(), {"--nodes-stale-after-s", "1", "--nodes-offline-after-s", "2"});
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete dir_;
  }

  // An agent sending to the daemon every 0.25 s, with the fake nvidia-smi on PATH.
  static std::unique_ptr<ToolProcess> agent(const std::string& node,
                                            std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "--server",     server(), "--node",       node,
        "--interval-s", "0.25",   "--token-file", (dir_->path() / "admin.token").string(),
        "--log-level",  "debug"};
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<ToolProcess>(METRICSD_AGENT_BINARY, args,
                                         std::vector<std::pair<std::string, std::string>>{
                                             {"PATH", kFakeGpuPath + ":" + std::getenv("PATH")}});
  }
  static std::string server() { return "http://127.0.0.1:" + std::to_string(daemon_->port()); }
  static json get_json(const std::string& target) {
    auto r = http_request(daemon_->port(), "GET", target);
    return r.status == 200 ? json::parse(r.body, nullptr, false) : json();
  }
  static std::string status_of(const std::string& node) {
    json n = get_json("/api/v1/nodes/" + node);
    return n.is_object() && n.contains("status") ? n["status"].get<std::string>() : "";
  }
  static bool has_latest(const std::string& query) {
    json l = get_json("/api/v1/latest?" + query);
    return l.is_array() && !l.empty();
  }

  static TempDir* dir_;
  static Daemon* daemon_;
};
TempDir* AgentTest::dir_ = nullptr;
Daemon* AgentTest::daemon_ = nullptr;

TEST_F(AgentTest, MachineAndGpuMetricsArriveNodeIsOnlineThenOfflineAfterSigterm) {
  auto a = agent("agent-e2e-1", {"--label", "site=ci", "--type", "inference"});
  ASSERT_TRUE(eventually([] {
    return status_of("agent-e2e-1") == "online" &&
           has_latest("metric=system.cpu_util&node=agent-e2e-1") &&
           has_latest("metric=gpu.util&node=agent-e2e-1&label=gpu:1");
  })) << a->log();
  json node = get_json("/api/v1/nodes/agent-e2e-1");
  EXPECT_EQ(node["type"], "inference");
  EXPECT_EQ(node["labels"]["site"], "ci");
  EXPECT_EQ(node["info"]["gpus"].size(), 2u);
  EXPECT_EQ(node["info"]["gpus"][0]["name"], "NVIDIA GeForce RTX 4090");
  EXPECT_TRUE(node["latest"].contains("system.mem_used_pct")) << node.dump();
  EXPECT_TRUE(node["latest"].contains("system.load1"));
  json gpu = get_json("/api/v1/latest?category=gpu&node=agent-e2e-1&metric=gpu.temp_c");
  ASSERT_EQ(gpu.size(), 2u) << gpu.dump();
  for (const auto& s : gpu)
    EXPECT_TRUE(s["labels"].contains("gpu"));
  EXPECT_TRUE(has_latest("metric=disk.used_pct&node=agent-e2e-1&label=mount:/"));

  a->signal(SIGTERM);
  EXPECT_EQ(a->wait_exit(5s), 0) << a->log();
  EXPECT_EQ(a->count_in_log("SIGTERM: last flush"), 1u);
  // Stale after max(1 s, 3 × 0.25 s), offline after max(2 s, 12 × 0.25 s).
  EXPECT_TRUE(eventually([] { return status_of("agent-e2e-1") == "stale"; }, 5s));
  EXPECT_TRUE(eventually([] { return status_of("agent-e2e-1") == "offline"; }, 8s));
}

TEST_F(AgentTest, CustomLineProtocolFromExecAndTheLoopbackPortArrives) {
  const int lp_port = free_port();
  auto a = agent("agent-e2e-2",
                 {"--exec", "printf 'custom_exec,src=sh value=2.5\\nnot line protocol\\n'",
                  "--listen-lp", "127.0.0.1:" + std::to_string(lp_port)});
  ASSERT_TRUE(eventually([] { return has_latest("metric=custom_exec.value&node=agent-e2e-2"); }))
      << a->log();
  json e = get_json("/api/v1/latest?metric=custom_exec.value&node=agent-e2e-2");
  EXPECT_EQ(e[0]["labels"]["src"], "sh");
  EXPECT_DOUBLE_EQ(e[0]["value"].get<double>(), 2.5);
  EXPECT_GE(a->count_in_log("malformed line-protocol"), 1u);

  // A local program writes lines to the port (one garbage line among them).
  int fd = -1;
  ASSERT_TRUE(eventually([&] {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(lp_port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return true;
    close(fd);
    return false;
  }));
  const std::string lines =
      "app_stats,job=train queue=7i,ok=true\ngarbage\napp_stats,job=eval,node=elsewhere queue=3i\n";
  ASSERT_EQ(write(fd, lines.data(), lines.size()), static_cast<ssize_t>(lines.size()));
  close(fd);
  ASSERT_TRUE(eventually([] {
    return has_latest("metric=app_stats.queue&node=agent-e2e-2") &&
           has_latest("metric=app_stats.queue&node=elsewhere");
  })) << a->log();
  json q = get_json("/api/v1/latest?metric=app_stats.queue&node=agent-e2e-2");
  EXPECT_EQ(q[0]["labels"]["job"], "train");
  EXPECT_DOUBLE_EQ(q[0]["value"].get<double>(), 7);
  EXPECT_TRUE(has_latest("metric=app_stats.ok&node=agent-e2e-2"));

  // Several programs at once, each line split across writes.
  std::vector<int> fds;
  for (int i = 0; i < 4; ++i) {
    int c = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(lp_port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    fds.push_back(c);
  }
  for (int i = 0; i < 4; ++i) {
    const std::string head = "multi,prog=p" + std::to_string(i) + " val";
    ASSERT_EQ(write(fds[i], head.data(), head.size()), static_cast<ssize_t>(head.size()));
  }
  for (int i = 0; i < 4; ++i) {
    const std::string tail = "ue=" + std::to_string(i) + "\n";
    ASSERT_EQ(write(fds[i], tail.data(), tail.size()), static_cast<ssize_t>(tail.size()));
    close(fds[i]);
  }
  ASSERT_TRUE(eventually([] {
    json m = get_json("/api/v1/latest?metric=multi.value&node=agent-e2e-2");
    return m.is_array() && m.size() == 4;
  })) << a->log();
  a->signal(SIGTERM);
  EXPECT_EQ(a->wait_exit(5s), 0) << a->log();
}

TEST_F(AgentTest, CommandsInHeartbeatAnswersReachTheHook) {
  TempDir work;
  const auto hook = work.path() / "hook.sh";
  const auto seen = work.path() / "seen";
  {
    std::ofstream f(hook);
    f << "#!/bin/sh\n{ echo \"$1 $2\"; cat; echo; } >> " << seen.string() << "\necho paused\n";
  }
  std::filesystem::permissions(hook, std::filesystem::perms::owner_all);
  {
    pqxx::connection c("host=" + dir_->path().string() +
                       "/run port=5432 user=postgres dbname=metricsd");
    pqxx::nontransaction tx(c);
    tx.exec(
        "INSERT INTO commands (node_id, type, args) "
        "VALUES ('agent-e2e-3', 'pause', '{\"reason\": \"maintenance\"}')");
  }
  auto a = agent("agent-e2e-3", {"--command-hook", hook.string()});
  ASSERT_TRUE(eventually([&] {
    std::ifstream f(seen);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str().find("\"reason\":\"maintenance\"") != std::string::npos;
  })) << a->log();
  std::ifstream f(seen);
  std::string first;
  std::getline(f, first);
  EXPECT_EQ(first.substr(0, 6), "pause ");
  // The hook ran once, and its acknowledgement reached the server: the command row is done,
  // with the hook's stdout as its message.
  json command;
  ASSERT_TRUE(eventually([&] {
    json list = get_json("/api/v1/nodes/agent-e2e-3/commands");
    if (!list.is_object() || !list["commands"].is_array() || list["commands"].size() != 1)
      return false;
    command = list["commands"][0];
    return command["status"] == "done";
  })) << a->log();
  EXPECT_EQ(command["type"], "pause");
  EXPECT_EQ(command["message"], "paused");
  EXPECT_TRUE(command["acked_at"].is_string()) << command.dump();
  EXPECT_EQ(a->count_in_log("(pause) done: paused"), 1u) << a->log();
  EXPECT_EQ(a->count_in_log("acknowledgement endpoint"), 0u) << a->log();
  EXPECT_EQ(a->count_in_log("not acknowledged"), 0u) << a->log();
  std::this_thread::sleep_for(600ms);  // more heartbeats: the command is not run again
  EXPECT_EQ(a->count_in_log("(pause) done"), 1u);
  a->signal(SIGTERM);
  EXPECT_EQ(a->wait_exit(5s), 0) << a->log();
}

TEST_F(AgentTest, OnceDeliversAndExitsZero) {
  ToolProcess a(METRICSD_AGENT_BINARY, {"--server", server(), "--node", "agent-e2e-once", "--once",
                                        "--token-file", (dir_->path() / "admin.token").string()});
  EXPECT_EQ(a.wait_exit(10s), 0) << a.log();
  EXPECT_TRUE(has_latest("metric=system.cpu_util&node=agent-e2e-once"));
  EXPECT_EQ(status_of("agent-e2e-once"), "online");
}

TEST(AgentFaults, RefusedTokenExitsWithCodeThreeAndOneLogLine) {
  FixedAnswerServer refusing(401);
  ToolProcess a(METRICSD_AGENT_BINARY,
                {"--server", "http://127.0.0.1:" + std::to_string(refusing.port()), "--node",
                 "agent-refused", "--interval-s", "0.2"},
                {{"METRICSD_TOKEN", "not-a-valid-token"}});
  EXPECT_EQ(a.wait_exit(10s), 3) << a.log();
  EXPECT_EQ(a.count_in_log("refused the agent's token"), 1u) << a.log();
  EXPECT_EQ(a.count_in_log("not-a-valid-token"), 0u);  // the secret never reaches the log
}

TEST(AgentFaults, OverloadedServerIsRetriedNoSoonerThanRetryAfter) {
  FixedAnswerServer busy(503, "2");
  ToolProcess a(METRICSD_AGENT_BINARY,
                {"--server", "http://127.0.0.1:" + std::to_string(busy.port()), "--node",
                 "agent-busy", "--interval-s", "0.1", "--flush-timeout-s", "1"});
  ASSERT_TRUE(eventually([&] { return busy.requests() >= 1; }, 5s)) << a.log();
  std::this_thread::sleep_for(1200ms);
  EXPECT_EQ(busy.requests(), 1) << a.log();  // Retry-After: 2, though it collects every 0.1 s
  EXPECT_TRUE(eventually([&] { return busy.requests() >= 2; }, 4s)) << a.log();
  a.signal(SIGTERM);
  EXPECT_EQ(a.wait_exit(5s), 0) << a.log();
  EXPECT_EQ(a.count_in_log("buffering and retrying"), 1u) << a.log();
  EXPECT_EQ(a.count_in_log("gave up delivering"), 1u) << a.log();
}

TEST(AgentFaults, OnceWithNoServerGivesUpAfterTheFlushTimeout) {
  ToolProcess a(METRICSD_AGENT_BINARY,
                {"--server", "http://127.0.0.1:" + std::to_string(free_port()), "--node",
                 "agent-noserver", "--once", "--flush-timeout-s", "1"});
  EXPECT_EQ(a.wait_exit(10s), 1) << a.log();
  EXPECT_EQ(a.count_in_log("gave up delivering"), 1u) << a.log();
}

TEST(AgentFaults, BadFlagsExitTwoAndHelpExitsZero) {
  ToolProcess bad(METRICSD_AGENT_BINARY, {"--interval-s", "-1"});
  EXPECT_EQ(bad.wait_exit(5s), 2);
  EXPECT_EQ(bad.count_in_log("--interval-s"), 1u) << bad.log();
  ToolProcess help(METRICSD_AGENT_BINARY, {"--help"});
  EXPECT_EQ(help.wait_exit(5s), 0);
  EXPECT_GE(help.count_in_log("--buffer-samples"), 1u);
}

}  // namespace
}  // namespace metricsd::test
