// The loopback line-protocol port (see lp_listener.hpp).
#include "tools/agent/lp_listener.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "core/clock.hpp"
#include "tools/agent/agent_options.hpp"
#include "tools/agent/lp_forward.hpp"

namespace metricsd::tools {
namespace {

constexpr size_t kMaxClients = 32;

struct Client {
  int fd = -1;
  std::string partial;
  bool discarding = false;  // inside a line longer than the limit
};

}  // namespace

LpListener::LpListener(const std::string& listen_spec, const std::string& node, Outbox& outbox)
    : node_(node), outbox_(outbox) {
  auto [host, port] = parse_loopback_listen(listen_spec);
  const bool v6 = host.find(':') != std::string::npos;
  listen_fd_ = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    ::inet_pton(AF_INET6, host.c_str(), &a->sin6_addr);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1) {
      ::close(listen_fd_);
      throw std::runtime_error("--listen-lp: bad address " + host);
    }
    len = sizeof *a;
  }
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(listen_fd_, 16) != 0) {
    std::string why = std::strerror(errno);
    ::close(listen_fd_);
    throw std::runtime_error("cannot listen on " + listen_spec + ": " + why);
  }
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &blen);
  port_ = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                   : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  }
}

LpListener::~LpListener() {
  stop();
  for (int fd : {listen_fd_, wake_[0], wake_[1]})
    if (fd >= 0) ::close(fd);
}

void LpListener::start() {
  spdlog::info("accepting line protocol on {}", port_);
  thread_ = std::thread([this] { run(); });
}

void LpListener::stop() {
  if (!thread_.joinable()) return;
  char c = 1;
  [[maybe_unused]] auto n = ::write(wake_[1], &c, 1);
  thread_.join();
}

void LpListener::run() {
  std::vector<Client> clients;
  uint64_t logged_garbage = 0;
  auto garbage = [&](const std::string& why) {
    if (++garbage_lines_ > logged_garbage) {
      spdlog::warn("line-protocol port: skipped a malformed line ({}); {} so far", why,
                   garbage_lines_.load());
      logged_garbage = garbage_lines_ * 2;  // log again at doubling counts only
    }
  };
  auto take_line = [&](std::string_view line, std::vector<std::string>& out) {
    auto p = prepare_lp_line(line, node_, wall_ns());
    if (p.kind == LpLineKind::kLine)
      out.push_back(std::move(p.line));
    else if (p.kind == LpLineKind::kGarbage)
      garbage(p.why);
  };
  char buf[16384];
  for (;;) {
    std::vector<pollfd> fds = {{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    for (const auto& c : clients)
      fds.push_back({c.fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("line-protocol port: poll failed: {}", std::strerror(errno));
      break;
    }
    if (fds[0].revents) break;
    const size_t polled = clients.size();  // fds[2..] are these; an accepted one waits a turn
    if (fds[1].revents & POLLIN) {
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0 && clients.size() >= kMaxClients) {
        spdlog::warn("line-protocol port: more than {} connections; closing the new one",
                     kMaxClients);
        ::close(fd);
      } else if (fd >= 0) {
        clients.push_back({fd, "", false});
      }
    }
    std::vector<std::string> lines;
    for (size_t i = 0; i < polled; ++i) {
      if (!(fds[i + 2].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      Client& c = clients[i];
      ssize_t n = ::read(c.fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (!c.discarding && !c.partial.empty()) take_line(c.partial, lines);
        ::close(c.fd);
        c.fd = -1;
        continue;
      }
      std::string_view data(buf, static_cast<size_t>(n));
      while (!data.empty()) {
        auto nl = data.find('\n');
        auto piece = data.substr(0, nl);
        if (!c.discarding) c.partial.append(piece);
        if (c.partial.size() > kMaxLpLineBytes) {
          c.partial.clear();
          c.discarding = true;
        }
        if (nl == std::string_view::npos) break;
        if (c.discarding) {
          garbage("line longer than 64 KiB");
          c.discarding = false;
        } else {
          take_line(c.partial, lines);
        }
        c.partial.clear();
        data.remove_prefix(nl + 1);
      }
    }
    std::erase_if(clients, [](const Client& c) { return c.fd < 0; });
    outbox_.add_lines(std::move(lines));
  }
  for (auto& c : clients)
    ::close(c.fd);
}

}  // namespace metricsd::tools
