// metricsd-sim: the fleet simulator. Parses flags (sim_options.hpp), runs (sim_runner.hpp),
// prints the report and optionally writes it as JSON.
#include <signal.h>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <fstream>
#include <iostream>

#include "tools/common/token_file.hpp"
#include "tools/sim/sim_runner.hpp"

int main(int argc, char** argv) {
  using namespace metricsd::tools;
  SimOptions options;
  try {
    options = parse_sim_options(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::exception& e) {
    std::cerr << "metricsd-sim: " << e.what() << "\n";
    return 2;
  }
  if (options.help) {
    std::cout << sim_usage();
    return 0;
  }
  spdlog::set_default_logger(spdlog::stderr_logger_mt("sim"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  auto level = spdlog::level::from_str(options.log_level);
  if (level == spdlog::level::off && options.log_level != "off") {
    std::cerr << "metricsd-sim: --log-level: unknown level '" << options.log_level << "'\n";
    return 2;
  }
  spdlog::set_level(level);

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  SimOutcome outcome;
  try {
    outcome = run_sim(options, load_token(options.token_file));
  } catch (const std::exception& e) {
    spdlog::error("metricsd-sim: {}", e.what());
    return 1;
  }
  std::cout << outcome.report.text() << std::flush;
  if (!options.report_json.empty()) {
    std::ofstream out(options.report_json);
    out << outcome.report.to_json().dump(2) << "\n";
    if (!out) {
      spdlog::error("cannot write the report to {}", options.report_json);
      return 1;
    }
  }
  if (outcome.auth_failed) return 3;
  const auto total = outcome.report.total();
  return total.requests > 0 && total.ok == 0 ? 1 : 0;
}
