// The loopback TCP port (--listen-lp) where local programs write newline-delimited line
// protocol for the agent to forward. One thread, one poll loop. Bounded: at most
// kMaxClients connections (more are closed at once), lines up to kMaxLpLineBytes (longer
// ones are dropped and counted), and the Outbox's line buffer behind it.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "tools/agent/outbox.hpp"

namespace metricsd::tools {

class LpListener {
 public:
  // Binds and listens at once; throws std::runtime_error naming the address on failure.
  LpListener(const std::string& listen_spec, const std::string& node, Outbox& outbox);
  ~LpListener();  // stops and joins

  void start();
  void stop();
  unsigned short port() const { return port_; }

 private:
  void run();

  std::string node_;
  Outbox& outbox_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};  // a pipe that interrupts poll on stop
  unsigned short port_ = 0;
  std::thread thread_;
  std::atomic<uint64_t> garbage_lines_{0};
};

}  // namespace metricsd::tools
