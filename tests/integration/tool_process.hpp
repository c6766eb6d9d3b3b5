// Test helpers for the tools (metricsd-agent, metricsd-sim): run one as a child process with
// its output in a log file, signal it, wait for its exit; pick a free loopback port; and a
// tiny HTTP server that answers every request with one fixed status (for the agent's
// behaviour against a server that refuses its token).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace metricsd::test {

class ToolProcess {
 public:
  ToolProcess(const std::string& binary, const std::vector<std::string>& args,
              const std::vector<std::pair<std::string, std::string>>& env = {});
  ~ToolProcess();  // SIGKILL if still running

  void signal(int sig);
  // The exit code (128 + signal if killed), or nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  std::string log() const;
  // Times `text` occurs in the log.
  size_t count_in_log(const std::string& text) const;

 private:
  pid_t pid_ = -1;
  std::filesystem::path log_path_;
};

// A loopback port that was free a moment ago.
int free_port();

// Answers every request with `status` and a JSON error body (and `Retry-After` when given),
// Connection: close.
class FixedAnswerServer {
 public:
  explicit FixedAnswerServer(int status, std::string retry_after = "");
  ~FixedAnswerServer();
  int port() const { return port_; }
  int requests() const { return requests_; }

 private:
  void run();
  int status_;
  std::string retry_after_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

}  // namespace metricsd::test
