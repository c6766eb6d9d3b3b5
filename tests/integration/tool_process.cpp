// Tool test helpers (see tool_process.hpp).
#include "tool_process.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "core/subprocess.hpp"

namespace metricsd::test {

namespace fs = std::filesystem;

ToolProcess::ToolProcess(const std::string& binary, const std::vector<std::string>& args,
                         const std::vector<std::pair<std::string, std::string>>& env) {
  static int counter = 0;
  log_path_ = fs::path("/tmp") / ("metricsd-tool-log-" + std::to_string(getpid()) + "-" +
                                  std::to_string(++counter) + ".log");
  SubprocessSpec spec;
  spec.argv = {binary};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.env_set = env;
  spec.stdout_ = Stdio::to_file(log_path_.string());
  spec.stderr_ = Stdio::to_stdout();
  spec.close_other_fds = true;  // nothing of the test's (its sockets) leaks into the tool
  Spawned s = spawn_subprocess(spec);
  if (!s.started()) ADD_FAILURE() << "starting " << binary << ": " << s.describe_failure();
  pid_ = s.pid;
}

ToolProcess::~ToolProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  std::error_code ec;
  if (!::testing::Test::HasFailure()) fs::remove(log_path_, ec);
}

void ToolProcess::signal(int sig) {
  if (pid_ > 0) kill(pid_, sig);
}

std::optional<int> ToolProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string ToolProcess::log() const {
  std::ifstream f(log_path_);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

size_t ToolProcess::count_in_log(const std::string& text) const {
  const std::string all = log();
  size_t n = 0;
  for (size_t at = all.find(text); at != std::string::npos; at = all.find(text, at + 1))
    ++n;
  return n;
}

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

FixedAnswerServer::FixedAnswerServer(int status, std::string retry_after)
    : status_(status), retry_after_(std::move(retry_after)) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
  listen(listen_fd_, 16);
  socklen_t len = sizeof a;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] { run(); });
}

FixedAnswerServer::~FixedAnswerServer() {
  stop_ = true;
  thread_.join();
  close(listen_fd_);
}

void FixedAnswerServer::run() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    int fd = accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    // Read the head and a Content-Length body, then answer and close.
    std::string in;
    char buf[4096];
    size_t need = std::string::npos;
    while (in.size() < need) {
      pollfd c{fd, POLLIN, 0};
      if (poll(&c, 1, 2000) <= 0) break;
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
      auto head_end = in.find("\r\n\r\n");
      if (head_end != std::string::npos && need == std::string::npos) {
        size_t body = 0;
        auto cl = in.find("Content-Length: ");
        if (cl == std::string::npos) cl = in.find("content-length: ");
        if (cl != std::string::npos) body = std::stoul(in.substr(cl + 16));
        need = head_end + 4 + body;
      }
    }
    ++requests_;
    const std::string body =
        R"({"error":{"code":"unauthenticated","message":"missing or invalid token","details":[]}})";
    const std::string out = "HTTP/1.1 " + std::to_string(status_) +
                            " Refused\r\nContent-Type: application/json\r\nContent-Length: " +
                            std::to_string(body.size()) +
                            (retry_after_.empty() ? "" : "\r\nRetry-After: " + retry_after_) +
                            "\r\nConnection: close\r\n\r\n" + body;
    [[maybe_unused]] auto w = write(fd, out.data(), out.size());
    close(fd);
  }
}

}  // namespace metricsd::test
