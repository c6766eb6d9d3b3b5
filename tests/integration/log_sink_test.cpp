// Logging never blocks a request: with the daemon's stderr a pipe that nobody reads (a
// stalled journald or terminal), every request is still answered, the log messages that
// did not fit are dropped and counted, and logging resumes once the pipe is read again.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <string>

#include "core/subprocess.hpp"
#include "harness.hpp"

extern char** environ;

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Reads what the pipe has until `pattern` appears in `text` or the time is up.
bool read_until(int fd, std::string& text, const std::regex& pattern,
                std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  while (!std::regex_search(text, pattern)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return false;
    text.append(buf, static_cast<size_t>(n));
  }
  return true;
}

TEST(LogSink, AStderrNobodyReadsNeverBlocksRequests) {
  TempDir dir;
  SubprocessSpec cp;
  cp.argv = {"/bin/cp", "-a", (cluster_template() / "postgres").string(),
             (dir.path() / "postgres").string()};
  ASSERT_EQ(run_subprocess(cp), 0);

  int pipe_fds[2];
  ASSERT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
  SubprocessSpec spec;
  spec.argv = {METRICSD_BINARY, "serve",       "--listen", "127.0.0.1:0",          "--data-dir",
               dir.path(),      "--auth-mode", "disabled", "--log-queue-messages", "64"};
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    if (kv.rfind("METRICSD_", 0) == 0) spec.env_remove.emplace_back(kv.substr(0, kv.find('=')));
  }
  spec.stdout_ = Stdio::from_fd(pipe_fds[1]);
  spec.stderr_ = Stdio::to_stdout();
  spec.close_other_fds = true;
  Spawned child = spawn_subprocess(spec);
  close(pipe_fds[1]);
  ASSERT_TRUE(child.started()) << child.describe_failure();
  struct Reaper {
    pid_t pid;
    ~Reaper() {
      if (pid <= 0) return;
      kill(pid, SIGKILL);
      wait_subprocess(pid);
    }
  } reaper{child.pid};

  std::string text;
  std::smatch m;
  ASSERT_TRUE(
      read_until(pipe_fds[0], text, std::regex(R"(listening on http://127\.0\.0\.1:\d+)"), 90s))
      << text;
  std::regex_search(text, m, std::regex(R"(listening on http://127\.0\.0\.1:(\d+))"));
  const int port = std::stoi(m[1]);

  // Nobody reads the pipe now. Each request logs a line: after ~64 KiB the pipe is full,
  // after 64 more messages the queue is, and every request must still be answered.
  const std::vector<std::pair<std::string, std::string>> no_token = {{"Authorization", ""}};
  int answered = 0;
  for (int i = 0; i < 1500; ++i)
    if (http_request(port, "GET", "/healthz", "", no_token).status == 200) ++answered;
  EXPECT_EQ(answered, 1500);
  double dropped = metric_value(port, "metricsd_log_messages_dropped_total", -1);
  EXPECT_GT(dropped, 0) << "a full queue drops its oldest messages and counts them";

  // Reading again: the next request's line arrives.
  text.clear();
  ASSERT_EQ(http_request(port, "GET", "/after-the-drain", "", no_token).status, 404);
  EXPECT_TRUE(read_until(pipe_fds[0], text, std::regex("/after-the-drain"), 30s))
      << "logging resumes once stderr is read";

  kill(child.pid, SIGTERM);
  std::string rest;
  read_until(pipe_fds[0], rest, std::regex("metricsd stopped"), 60s);
  EXPECT_NE(rest.find("metricsd stopped"), std::string::npos) << rest;
  EXPECT_EQ(exit_code_of(wait_subprocess(child.pid)), 0);
  reaper.pid = -1;
  close(pipe_fds[0]);
}

}  // namespace
}  // namespace metricsd::test
