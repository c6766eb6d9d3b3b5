// The agent's sender thread: delivers the Outbox to the server (heartbeat, then sample
// batches on POST /api/v1/metrics, then line-protocol batches on POST /api/v1/write),
// backs off with jitter while the server is unreachable or overloaded (honouring
// Retry-After), drops what the server rejects as invalid (logged), runs the command hook
// for commands in heartbeat answers and acknowledges them, and stops the agent with exit
// code 3 when the server refuses the token. Everything here runs on that one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "tools/agent/agent_options.hpp"
#include "tools/agent/outbox.hpp"
#include "tools/agent/payloads.hpp"
#include "tools/agent/retry_policy.hpp"
#include "tools/common/http_client.hpp"

namespace metricsd::tools {

class Sender {
 public:
  Sender(const AgentOptions& options, Outbox& outbox, const std::string& token);

  // Delivers until the outbox is asked to stop, then makes a last flush bounded by
  // --flush-timeout-s. Returns the exit code (0, or kExitAuth).
  int run();

  // Delivers everything now, retrying until `deadline`; true when all of it went.
  // Used by --once and by the last flush.
  bool flush(std::chrono::steady_clock::time_point deadline);

  bool auth_failed() const { return auth_failed_; }

 private:
  enum class Outcome { kOk, kRetry, kRejected, kAuth };

  // One pass over the outbox; stops at the first failure that calls for a retry.
  Outcome deliver_round();
  Outcome send_heartbeat(const Collection& c);
  Outcome classify(const HttpReply& r, const std::string& what, size_t count);
  void on_retry();
  void on_success();
  void handle_command(const AgentCommand& cmd);
  void acknowledge(const AgentCommand& cmd, bool done, const std::string& message);
  void log_shedding();

  const AgentOptions& options_;
  Outbox& outbox_;
  HttpClient http_;
  RetryPolicy retry_;
  std::string hostname_;
  std::chrono::steady_clock::time_point next_attempt_{};
  std::optional<std::chrono::milliseconds> retry_after_;
  std::string last_failure_;  // the failure that started the current outage, "" when none
  uint64_t outage_failures_ = 0;
  bool auth_failed_ = false;
  bool ack_missing_logged_ = false;         // the server answered "no such endpoint" on an ack
  bool events_refused_ = false;             // the server refused heartbeats' node events
  std::set<std::string> handled_commands_;  // bounded: cleared beyond 1000 ids
};

}  // namespace metricsd::tools
