// Child processes with deadlines (see command_runner.hpp). core/subprocess starts the
// child on three pipes; one poll loop until both output pipes close and the child is
// reaped, or the deadline.
#include "tools/agent/command_runner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "core/subprocess.hpp"

namespace metricsd::tools {
namespace {

constexpr size_t kMaxErrBytes = 4096;

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string find_on_path(const std::string& name) {
  if (name.empty()) return "";
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string full = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(full.c_str(), X_OK) == 0) return full;
  }
  return "";
}

CommandResult run_command(const CommandSpec& spec) {
  CommandResult r;
  if (spec.argv.empty()) {
    r.error = "empty command";
    return r;
  }
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
    r.error = std::string("pipe: ") + std::strerror(errno);
    for (int* p : {in, out, err}) {
      close_fd(p[0]);
      close_fd(p[1]);
    }
    return r;
  }
  // The child: own process group, default signal handling, the pipes as stdio, nothing
  // else of the agent's (its HTTP connections, the line-protocol port) leaked into a
  // program that might outlive the deadline.
  SubprocessSpec child;
  child.argv = spec.argv;
  child.search_path = true;
  child.stdin_ = Stdio::from_fd(in[0]);
  child.stdout_ = Stdio::from_fd(out[1]);
  child.stderr_ = Stdio::from_fd(err[1]);
  child.close_other_fds = true;
  child.new_process_group = true;
  child.default_sigpipe = true;
  Spawned spawned;
  try {
    spawned = spawn_subprocess(child);
  } catch (const std::exception& e) {
    r.error = e.what();
    for (int* p : {in, out, err}) {
      close_fd(p[0]);
      close_fd(p[1]);
    }
    return r;
  }
  const pid_t pid = spawned.pid;
  // As before the shared helper: a program that cannot be executed is a start that exits
  // 127 with "exec failed" on stderr.
  if (!spawned.started()) r.err = "exec failed\n";
  r.started = true;
  close_fd(in[0]);
  close_fd(out[1]);
  close_fd(err[1]);
  ::fcntl(in[1], F_SETFL, O_NONBLOCK);

  size_t written = 0;
  if (spec.stdin_data.empty()) close_fd(in[1]);
  const auto deadline = std::chrono::steady_clock::now() + spec.timeout;
  char buf[8192];
  while (out[0] >= 0 || err[0] >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      r.timed_out = true;
      break;
    }
    pollfd fds[3];
    int n = 0;
    int idx_out = -1, idx_err = -1, idx_in = -1;
    if (out[0] >= 0) fds[idx_out = n++] = {out[0], POLLIN, 0};
    if (err[0] >= 0) fds[idx_err = n++] = {err[0], POLLIN, 0};
    if (in[1] >= 0) fds[idx_in = n++] = {in[1], POLLOUT, 0};
    int rc = ::poll(fds, n, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (rc < 0 && errno != EINTR) {
      r.error = std::string("poll: ") + std::strerror(errno);
      break;
    }
    if (rc <= 0) continue;
    auto drain = [&](int idx, int& fd, std::string& into, size_t max, bool* truncated) {
      if (idx < 0 || !(fds[idx].revents & (POLLIN | POLLHUP | POLLERR))) return;
      ssize_t got = ::read(fd, buf, sizeof buf);
      if (got <= 0) {
        if (got < 0 && errno == EINTR) return;
        close_fd(fd);
        return;
      }
      size_t room = into.size() < max ? max - into.size() : 0;
      into.append(buf, std::min(room, static_cast<size_t>(got)));
      if (static_cast<size_t>(got) > room && truncated) *truncated = true;
    };
    drain(idx_out, out[0], r.out, spec.max_output_bytes, &r.out_truncated);
    drain(idx_err, err[0], r.err, kMaxErrBytes, nullptr);
    if (idx_in >= 0 && (fds[idx_in].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w =
          ::write(in[1], spec.stdin_data.data() + written, spec.stdin_data.size() - written);
      if (w < 0 && errno != EAGAIN && errno != EINTR) close_fd(in[1]);  // the child closed it
      if (w > 0) written += static_cast<size_t>(w);
      if (written >= spec.stdin_data.size()) close_fd(in[1]);
    }
  }
  close_fd(in[1]);
  close_fd(out[0]);
  close_fd(err[0]);
  if (r.timed_out) ::kill(-pid, SIGKILL);

  // The outputs are closed; reap the child, still bounded by the deadline (it may have
  // closed its stdio and kept running).
  int status = 0;
  for (;;) {
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      r.exit_code = exit_code_of(status);
      break;
    }
    if (w < 0 && errno != EINTR) break;
    if (!r.timed_out && std::chrono::steady_clock::now() >= deadline) {
      r.timed_out = true;
      ::kill(-pid, SIGKILL);
    }
    ::usleep(2000);
  }
  if (r.timed_out) r.exit_code = -1;
  return r;
}

}  // namespace metricsd::tools
