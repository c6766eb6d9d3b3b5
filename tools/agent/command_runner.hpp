// Running an external program with a deadline and bounded output: nvidia-smi, the --exec
// command and the --command-hook. The child gets its own process group, which is killed
// (SIGKILL) at the deadline so a hanging program and its children cannot stall the agent.
// stdout is kept up to max_output_bytes (the rest is read and dropped); stderr up to 4 KiB
// for the log.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace metricsd::tools {

struct CommandResult {
  bool started = false;    // false: fork/exec failed (see error)
  bool timed_out = false;  // killed at the deadline
  int exit_code = -1;      // the exit status, or 128 + signal
  std::string out, err;
  bool out_truncated = false;
  std::string error;
  bool ok() const { return started && !timed_out && exit_code == 0; }
};

struct CommandSpec {
  std::vector<std::string> argv;  // argv[0] searched on PATH; a shell line: {"/bin/sh", "-c", line}
  std::string stdin_data;         // written to the child's stdin, then closed
  std::chrono::milliseconds timeout{5000};
  size_t max_output_bytes = 1 << 20;
};

CommandResult run_command(const CommandSpec& spec);

// The full path of an executable found on $PATH (or `name` itself when it has a '/' and is
// executable); "" when none.
std::string find_on_path(const std::string& name);

}  // namespace metricsd::tools
