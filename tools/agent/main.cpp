// metricsd-agent: the node agent. Parses flags (see agent_options.hpp), sets up logging to
// stderr, blocks the stop signals for every thread and runs the agent (agent_runner.hpp).
#include <signal.h>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "core/version.hpp"
#include "tools/agent/agent_options.hpp"
#include "tools/agent/agent_runner.hpp"
#include "tools/common/token_file.hpp"

int main(int argc, char** argv) {
  using namespace metricsd::tools;
  AgentOptions options;
  try {
    options = parse_agent_options(std::vector<std::string>(argv + 1, argv + argc),
                                  [](const char* name) { return std::getenv(name); });
  } catch (const std::exception& e) {
    std::cerr << "metricsd-agent: " << e.what() << "\n";
    return kExitUsage;
  }
  if (options.help) {
    std::cout << agent_usage();
    return kExitOk;
  }
  if (options.version) {
    std::cout << "metricsd-agent " << metricsd::kVersion << " (" << metricsd::kGitCommit << ")\n";
    return kExitOk;
  }
  auto logger = spdlog::stderr_logger_mt("agent");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  auto level = spdlog::level::from_str(options.log_level);
  if (level == spdlog::level::off && options.log_level != "off") {
    std::cerr << "metricsd-agent: --log-level: unknown level '" << options.log_level << "'\n";
    return kExitUsage;
  }
  spdlog::set_level(level);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  try {
    const std::string token = load_token(options.token_file);
    if (token.empty())
      spdlog::warn(
          "no token (--token-file or METRICSD_TOKEN): requests go without "
          "Authorization and fail once the server requires it");
    return run_agent(options, token);
  } catch (const std::exception& e) {
    spdlog::error("metricsd-agent: {}", e.what());
    return kExitFailure;
  }
}
