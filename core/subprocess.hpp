// Starting a child process from a multi-threaded program, the one way metricsd, its tools
// and its tests do it (the embedded PostgreSQL, initdb, the agent's commands, the test
// harness's daemons and tools).
//
// Everything the child needs is prepared in the parent before fork: argv, the complete
// environment, the candidate paths of a $PATH search, the files stdio goes to (opened
// close-on-exec). Between fork and exec the child makes only async-signal-safe calls
// (dup2, close_range, setpgid, sigaction, sigprocmask, prctl, setgroups/setgid/setuid,
// execve, write, _exit): no allocation, no stdio, no setenv, so it cannot deadlock on a lock
// another thread held at the fork. Signal handlers are reset to the default before the
// signal mask is cleared, so no handler of the parent's runs in the child.
//
// A failure before or at exec (the program is missing, a privilege drop is refused) is
// reported back to the parent through a close-on-exec pipe, with the failing step and its
// errno; that child has then exited (127, or 126 for the privilege drop) and still has to be
// reaped, so callers that treat "exit code 127" as the exec failure keep working.
//
// Thread-safe: spawn_subprocess may run on several threads at once.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace metricsd {

// Where one of the child's stdin, stdout and stderr comes from or goes to.
struct Stdio {
  enum class Kind { inherit, null, fd, file, same_as_stdout };
  Kind kind = Kind::inherit;
  int fd = -1;       // Kind::fd: duplicated onto the stream; stays the caller's
  std::string path;  // Kind::file: opened (created, mode 0644) by the parent before fork
  bool append = false;

  static Stdio inherit() { return {}; }
  static Stdio null() { return {Kind::null}; }  // /dev/null
  static Stdio from_fd(int fd) { return {Kind::fd, fd}; }
  // Written from the start (truncated), or appended to.
  static Stdio to_file(std::string path, bool append = false) {
    return {Kind::file, -1, std::move(path), append};
  }
  // Only for stderr: the same open file as stdout (2>&1).
  static Stdio to_stdout() { return {Kind::same_as_stdout}; }
};

struct SubprocessSpec {
  std::vector<std::string> argv;  // argv[0]: the program's path, or a name (see search_path)
  // argv[0] without a '/' is looked up in $PATH, in order, like execvp (except that a file
  // without a #! line is not handed to /bin/sh).
  bool search_path = false;
  // The child's environment: the parent's, minus env_remove, with env_set set (replacing).
  std::vector<std::pair<std::string, std::string>> env_set;
  std::vector<std::string> env_remove;
  Stdio stdin_ = Stdio::inherit();
  Stdio stdout_ = Stdio::inherit();
  Stdio stderr_ = Stdio::inherit();
  bool close_other_fds = false;    // close every descriptor above 2 (nothing else leaks in)
  bool new_process_group = false;  // setpgid(0, 0): kill(-pid, ...) reaches its children too
  bool default_sigpipe = false;    // SIGPIPE back to the default even if the parent ignores it
  // Switch to this uid and gid (no supplementary groups) before exec; needs root.
  std::optional<std::pair<uid_t, gid_t>> run_as;
  // Sent to the child when the spawning *thread* ends (prctl PR_SET_PDEATHSIG); set after
  // the privilege drop, which would clear it. The child exits 125 at once if the parent is
  // already gone.
  int parent_death_signal = 0;
};

struct Spawned {
  pid_t pid = -1;
  std::string program;  // argv[0]
  // Non-empty when the child failed before running the program: "exec", "setuid", ...;
  // `error` is its errno. The child has exited (127; 126 for the privilege drop) and must
  // still be reaped with wait_subprocess.
  std::string failed_step;
  int error = 0;
  bool started() const { return failed_step.empty(); }
  std::string describe_failure() const;  // "exec /x/y: No such file or directory"
};

// Starts the child. Throws std::system_error when fork or pipe fails or a redirect file
// cannot be opened (nothing was started then); failures in the child come back in Spawned.
Spawned spawn_subprocess(const SubprocessSpec& spec);

// Waits for the child (retrying on EINTR); its wait status. -1 if it is not our child.
int wait_subprocess(pid_t pid);
// Waits up to `timeout`; the wait status, or nullopt while it still runs. A pid that is not
// our child (any more) gives 0.
std::optional<int> wait_subprocess_for(pid_t pid, std::chrono::milliseconds timeout);

// The exit code of a wait status: its exit status, or 128 + the signal that killed it.
int exit_code_of(int wait_status);

// "exit code 3" / "killed by signal 9" for a wait status.
std::string describe_wait_status(int wait_status);

// Spawns, waits, and returns the exit code (128 + signal when killed; 127 when the exec
// failed).
int run_subprocess(const SubprocessSpec& spec);

}  // namespace metricsd
