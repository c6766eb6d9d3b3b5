// Child processes of the storage layer; see child_process.hpp.
#include "storage/child_process.hpp"

#include <spdlog/spdlog.h>

#include "core/subprocess.hpp"

namespace metricsd::storage {

pid_t spawn_process(const SpawnOptions& o) {
  SubprocessSpec spec;
  spec.argv = o.argv;
  spec.env_remove = o.env_remove;
  spec.stdin_ = Stdio::null();
  if (o.output_fd >= 0) {
    spec.stdout_ = Stdio::from_fd(o.output_fd);
    spec.stderr_ = Stdio::from_fd(o.output_fd);
  }
  if (o.drop_privileges) spec.run_as = std::make_pair(o.uid, o.gid);
  spec.parent_death_signal = o.parent_death_signal;
  Spawned s = spawn_subprocess(spec);
  if (!s.started()) spdlog::error("starting {} failed: {}", o.argv[0], s.describe_failure());
  return s.pid;
}

std::optional<int> wait_process(pid_t pid, std::chrono::milliseconds timeout) {
  return wait_subprocess_for(pid, timeout);
}

int run_process(const SpawnOptions& options) {
  return exit_code_of(wait_subprocess(spawn_process(options)));
}

std::string describe_wait_status(int status) {
  return metricsd::describe_wait_status(status);
}

}  // namespace metricsd::storage
