// metricsd-sim's flags, each with its one-line help (the source of --help and the README).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace metricsd::tools {

struct SimOptions {
  std::string server = "http://127.0.0.1:8080";
  size_t nodes = 50;
  double interval_s = 5;
  double duration_s = 60;
  double rate = 500;  // requests/s, all senders together
  uint64_t seed = 1;
  size_t senders = 4;
  std::string token_file;
  std::string report_json;
  std::string prefix = "sim";
  double outage_chance_per_hour = 0.5;
  double cliff_chance_per_hour = 0.3;
  double cliff_ramp_s = 0;  // 0: 60-240 s at random
  std::string log_level = "info";
  bool help = false;
};

inline constexpr double kMaxDurationS = 7 * 86400;

// Throws std::invalid_argument naming the flag and what is wrong.
SimOptions parse_sim_options(const std::vector<std::string>& args);
std::string sim_usage();
// "90", "90s", "15m", "2h", "1d" -> seconds; nullopt-like -1 on error.
double parse_duration_s(const std::string& text);

}  // namespace metricsd::tools
