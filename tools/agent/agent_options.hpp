// metricsd-agent's settings: flags, each with an environment equivalent (flags win), and
// their one-line help (the source of --help and the README's table).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tools/agent/sample.hpp"

namespace metricsd::tools {

struct AgentOptions {
  std::string server = "http://127.0.0.1:8080";
  std::string node;  // default: the host name
  std::string type = "node";
  Labels labels;
  double interval_s = 10;
  std::string token_file;
  std::string exec;  // a shell line printing line protocol
  double exec_timeout_s = 5;
  std::string listen_lp;  // host:port on loopback
  size_t buffer_samples = 100000;
  std::string command_hook;
  double hook_timeout_s = 30;
  std::string proc_root = "/proc", sys_root = "/sys";
  bool per_core = false;
  std::string gpu_source = "auto";  // auto | nvml | nvidia-smi | none
  std::string nvml_library = "libnvidia-ml.so.1";
  size_t gpu_processes = 10;  // gpu.process_mem_mb series, top N of the node
  bool once = false;
  double flush_timeout_s = 5;
  double request_timeout_s = 10;
  std::string log_level = "info";
  bool help = false, version = false;
};

// Exit codes (documented in the README).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // start-up failure, or --once could not deliver
inline constexpr int kExitUsage = 2;    // bad flag or value
inline constexpr int kExitAuth = 3;     // the server refused the token (401/403)

// Parses argv (without argv[0]) over the environment (`getenv` is injected for tests).
// Throws std::invalid_argument naming the flag and what is wrong.
AgentOptions parse_agent_options(const std::vector<std::string>& args,
                                 const std::function<const char*(const char*)>& getenv);

std::string agent_usage();

// host:port of --listen-lp, split; throws std::invalid_argument unless the host is a
// loopback address (127.0.0.0/8, ::1 or localhost).
std::pair<std::string, unsigned short> parse_loopback_listen(const std::string& spec);

}  // namespace metricsd::tools
