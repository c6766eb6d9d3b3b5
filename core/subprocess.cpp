// Child processes; see subprocess.hpp. The child's part is the block after fork() in
// spawn_subprocess: only async-signal-safe calls, on data prepared before the fork.
#include "core/subprocess.hpp"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>

extern char** environ;

namespace metricsd {
namespace {

// The steps of the child that can fail, as reported through the error pipe.
enum Step : int { kDup2 = 1, kSetpgid, kSetuid, kExec };

const char* step_name(int step) {
  switch (step) {
    case kDup2:
      return "dup2";
    case kSetpgid:
      return "setpgid";
    case kSetuid:
      return "setuid";
    case kExec:
      return "exec";
  }
  return "start";
}

struct ChildFailure {
  int step;
  int error;
};

// A descriptor closed at scope exit.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// Opens what a Stdio of kind null or file names (close-on-exec: only the child's dup2
// copies survive its exec); throws when it cannot.
int open_redirect(const Stdio& s, bool for_input) {
  int flags = O_CLOEXEC;
  std::string path;
  if (s.kind == Stdio::Kind::null) {
    path = "/dev/null";
    flags |= O_RDWR;
  } else {
    path = s.path;
    flags |= for_input ? O_RDONLY : (O_WRONLY | O_CREAT | (s.append ? O_APPEND : O_TRUNC));
  }
  int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + path);
  return fd;
}

// The child's side, from fork to exec. Never returns.
[[noreturn]] void child_fail(int err_fd, int step, int error, int exit_code) {
  ChildFailure f{step, error};
  [[maybe_unused]] auto n = ::write(err_fd, &f, sizeof f);
  ::_exit(exit_code);
}

bool is_handler(const struct sigaction& sa) {
  if (sa.sa_flags & SA_SIGINFO) return true;
  return sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN;
}

}  // namespace

std::string Spawned::describe_failure() const {
  if (started()) return "";
  return failed_step + " " + program + ": " + std::strerror(error);
}

Spawned spawn_subprocess(const SubprocessSpec& spec) {
  if (spec.argv.empty()) throw std::invalid_argument("spawn_subprocess: empty argv");

  // --- Everything the child needs, prepared before the fork. ---
  std::vector<char*> argv;
  for (const auto& a : spec.argv)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  // The paths to try, in order.
  std::vector<std::string> candidates;
  const std::string& name = spec.argv[0];
  if (spec.search_path && !name.empty() && name.find('/') == std::string::npos) {
    const char* path_env = std::getenv("PATH");
    std::string_view dirs(path_env && *path_env ? path_env : "/usr/local/bin:/usr/bin:/bin");
    for (;;) {
      auto colon = dirs.find(':');
      std::string_view dir = dirs.substr(0, colon);
      candidates.push_back((dir.empty() ? std::string(".") : std::string(dir)) + "/" + name);
      if (colon == std::string_view::npos) break;
      dirs.remove_prefix(colon + 1);
    }
  } else {
    candidates.push_back(name);
  }

  // The environment: the parent's minus what is removed or replaced, plus what is set.
  auto named = [](std::string_view kv, std::string_view key) {
    return kv.size() > key.size() && kv.substr(0, key.size()) == key && kv[key.size()] == '=';
  };
  std::vector<std::string> env_text;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    bool drop = false;
    for (const auto& key : spec.env_remove)
      drop = drop || named(kv, key);
    for (const auto& [key, value] : spec.env_set)
      drop = drop || named(kv, key);
    if (!drop) env_text.emplace_back(kv);
  }
  for (const auto& [key, value] : spec.env_set)
    env_text.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (auto& kv : env_text)
    envp.push_back(kv.data());
  envp.push_back(nullptr);

  // The descriptors that become the child's stdin, stdout, stderr (-1: leave it as it is).
  const Stdio* streams[3] = {&spec.stdin_, &spec.stdout_, &spec.stderr_};
  Fd opened[3];
  int source[3] = {-1, -1, -1};
  bool stderr_to_stdout = false;
  for (int i = 0; i < 3; ++i) {
    const Stdio& s = *streams[i];
    switch (s.kind) {
      case Stdio::Kind::inherit:
        break;
      case Stdio::Kind::fd:
        source[i] = s.fd;
        break;
      case Stdio::Kind::null:
      case Stdio::Kind::file:
        opened[i].reset(open_redirect(s, i == 0));
        source[i] = opened[i].get();
        break;
      case Stdio::Kind::same_as_stdout:
        if (i != 2) throw std::invalid_argument("spawn_subprocess: to_stdout() is for stderr");
        stderr_to_stdout = true;
        break;
    }
  }

  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0)
    throw std::system_error(errno, std::generic_category(), "pipe2");
  Fd err_read(err_pipe[0]), err_write(err_pipe[1]);
  const int err_fd = err_pipe[1];

  const pid_t parent = ::getpid();
  // No signal handler may run in the child before exec: block every signal around the
  // fork, reset the handlers in the child, then unblock.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  const pid_t pid = ::fork();
  if (pid == 0) {
    // --- Child: async-signal-safe calls only. ---
    for (int i = 0; i < 3; ++i) {
      if (source[i] < 0) continue;
      if (source[i] == i) {
        ::fcntl(i, F_SETFD, 0);  // keep it across exec
      } else if (::dup2(source[i], i) < 0) {
        child_fail(err_fd, kDup2, errno, 127);
      }
    }
    if (stderr_to_stdout && ::dup2(STDOUT_FILENO, STDERR_FILENO) < 0)
      child_fail(err_fd, kDup2, errno, 127);
    if (spec.close_other_fds) {
      // Everything above stderr but the error pipe, which closes itself at exec.
      if (err_fd > 3) ::close_range(3, static_cast<unsigned>(err_fd) - 1, 0);
      ::close_range(static_cast<unsigned>(err_fd) + 1, ~0U, 0);
    }
    if (spec.new_process_group && ::setpgid(0, 0) != 0) child_fail(err_fd, kSetpgid, errno, 127);
    if (spec.run_as) {
      if (::setgroups(0, nullptr) != 0 || ::setgid(spec.run_as->second) != 0 ||
          ::setuid(spec.run_as->first) != 0)
        child_fail(err_fd, kSetuid, errno, 126);
    }
    if (spec.parent_death_signal != 0) {
      ::prctl(PR_SET_PDEATHSIG, spec.parent_death_signal);
      if (::getppid() != parent) ::_exit(125);  // the parent is already gone
    }
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig == SIGKILL || sig == SIGSTOP) continue;
      struct sigaction sa;
      if (::sigaction(sig, nullptr, &sa) != 0) continue;  // glibc's internal signals
      if (is_handler(sa) || (sig == SIGPIPE && spec.default_sigpipe)) {
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        ::sigaction(sig, &dfl, nullptr);
      }
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // Like execvp: go on past directories without the program; report EACCES if any
    // candidate had it, else the last error.
    int error = ENOENT;
    bool denied = false, other = false;
    for (const auto& path : candidates) {
      ::execve(path.c_str(), argv.data(), envp.data());
      error = errno;
      if (error == EACCES) {
        denied = true;
      } else if (error != ENOENT && error != ENOTDIR && error != ESTALE && error != ENODEV &&
                 error != ETIMEDOUT) {
        other = true;
        break;
      }
    }
    child_fail(err_fd, kExec, denied && !other ? EACCES : error, 127);
  }
  // --- Parent. ---
  const int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) throw std::system_error(fork_errno, std::generic_category(), "fork");
  err_write.reset();
  for (auto& fd : opened)
    fd.reset();

  Spawned out;
  out.pid = pid;
  out.program = spec.argv[0];
  // EOF: the exec succeeded (the pipe closed with it). A record: the child failed.
  ChildFailure f{};
  size_t got = 0;
  while (got < sizeof f) {
    ssize_t n = ::read(err_read.get(), reinterpret_cast<char*>(&f) + got, sizeof f - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (got == sizeof f) {
    out.failed_step = step_name(f.step);
    out.error = f.error;
  }
  return out;
}

int wait_subprocess(pid_t pid) {
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, 0);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return -1;
  }
}

std::optional<int> wait_subprocess_for(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return 0;  // not our child (any more)
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

int exit_code_of(int status) {
  if (status < 0) return 255;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

int run_subprocess(const SubprocessSpec& spec) {
  return exit_code_of(wait_subprocess(spawn_subprocess(spec).pid));
}

}  // namespace metricsd
