// Starting and reaping child processes (initdb, postgres) with optional privilege drop
// and a parent-death signal: the storage layer's options on top of core/subprocess.hpp,
// which prepares everything before fork and makes only async-signal-safe calls between
// fork and exec.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace metricsd::storage {

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] is the program's path
  bool drop_privileges = false;   // switch to uid/gid before exec
  uid_t uid = 0;
  gid_t gid = 0;
  int output_fd = -1;                   // stdout and stderr go here (-1: inherit)
  int parent_death_signal = 0;          // sent to the child when the spawning thread ends
  std::vector<std::string> env_remove;  // variables the child must not inherit
};

// Starts the program (stdin from /dev/null); throws std::system_error when fork fails. An
// exec failure shows as exit status 127 (and is logged with its reason).
pid_t spawn_process(const SpawnOptions& options);

// Waits up to `timeout` for the child to end; its wait status, or nullopt if it still runs.
std::optional<int> wait_process(pid_t pid, std::chrono::milliseconds timeout);

// Runs to completion; returns the exit code (128 + signal when killed).
int run_process(const SpawnOptions& options);

// "exit code 3" / "killed by signal 9" for a wait status.
std::string describe_wait_status(int status);

}  // namespace metricsd::storage
