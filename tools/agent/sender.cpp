// Delivery to the server (see sender.hpp).
#include "tools/agent/sender.hpp"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include <thread>

#include "tools/agent/command_runner.hpp"
#include "tools/agent/payloads.hpp"

namespace metricsd::tools {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr size_t kSamplesPerRequest = 5000;
constexpr size_t kLinesPerRequest = 5000;
constexpr size_t kLineBytesPerRequest = 4 << 20;  // well under the server's 16 MiB body limit
constexpr size_t kMaxHookMessageBytes = 1024;

std::vector<std::pair<std::string, std::string>> auth_headers(const std::string& token) {
  if (token.empty()) return {};
  return {{"Authorization", "Bearer " + token}};
}

milliseconds seconds_ms(double s) {
  return milliseconds(static_cast<int64_t>(s * 1000));
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string body;
  for (const auto& l : lines)
    body.append(l).push_back('\n');
  return body;
}

std::string local_hostname() {
  char buf[256] = {};
  return ::gethostname(buf, sizeof buf - 1) == 0 ? std::string(buf) : std::string();
}

}  // namespace

Sender::Sender(const AgentOptions& options, Outbox& outbox, const std::string& token)
    : options_(options),
      outbox_(outbox),
      http_(parse_server_url(options.server), seconds_ms(options.request_timeout_s),
            auth_headers(token)),
      retry_(milliseconds(500), milliseconds(60000),
             std::hash<std::string>{}(options.node) ^ static_cast<uint64_t>(::getpid())),
      hostname_(local_hostname()) {}

int Sender::run() {
  while (outbox_.wait_for_work(next_attempt_)) {
    if (deliver_round() == Outcome::kAuth) return kExitAuth;
  }
  flush(Clock::now() + seconds_ms(options_.flush_timeout_s));
  return auth_failed_ ? kExitAuth : kExitOk;
}

bool Sender::flush(Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    http_.set_timeout(std::min(left, seconds_ms(options_.request_timeout_s)));
    Outcome o = deliver_round();
    if (o == Outcome::kAuth) return false;
    if (outbox_.empty()) return true;
    // Retry soon, but no sooner than the server asked; the deadline bounds it all.
    if (o == Outcome::kRetry)
      std::this_thread::sleep_for(
          std::min(left, std::max(milliseconds(200), retry_after_.value_or(milliseconds(0)))));
  }
  const size_t samples = outbox_.pending_samples(), lines = outbox_.pending_lines();
  if (samples + lines > 0)
    spdlog::warn(
        "gave up delivering {} samples and {} line-protocol lines: the server did not "
        "take them before the deadline ({})",
        samples, lines, last_failure_.empty() ? "no answer" : last_failure_);
  return samples + lines == 0;
}

Sender::Outcome Sender::deliver_round() {
  log_shedding();
  if (auto hb = outbox_.take_heartbeat()) {
    Outcome o = send_heartbeat(*hb);
    if (o != Outcome::kOk) outbox_.heartbeat_failed(*hb);
    if (o == Outcome::kRetry || o == Outcome::kAuth) return o;
  }
  for (;;) {
    auto batch = outbox_.take_samples(kSamplesPerRequest);
    if (batch.empty()) break;
    auto r = http_.post("/api/v1/metrics", metrics_json(options_.node, batch), "application/json");
    Outcome o = classify(r, "POST /api/v1/metrics", batch.size());
    if (o == Outcome::kRetry) outbox_.restore_samples(std::move(batch));
    if (o == Outcome::kRetry || o == Outcome::kAuth) return o;
  }
  for (;;) {
    auto batch = outbox_.take_lines(kLinesPerRequest, kLineBytesPerRequest);
    if (batch.empty()) break;
    auto r = http_.post("/api/v1/write?precision=ns", join_lines(batch), "text/plain");
    Outcome o = classify(r, "POST /api/v1/write", batch.size());
    if (o == Outcome::kRetry) outbox_.restore_lines(std::move(batch));
    if (o == Outcome::kRetry || o == Outcome::kAuth) return o;
  }
  return Outcome::kOk;
}

Sender::Outcome Sender::send_heartbeat(const Collection& c) {
  HeartbeatBody hb;
  hb.type = options_.type;
  hb.hostname = hostname_;
  hb.labels = options_.labels;
  hb.interval_s = options_.interval_s;
  hb.info = c.info;
  hb.metrics = c.unlabelled;
  if (!events_refused_) hb.events = c.events;
  const std::string path = "/api/v1/nodes/" + options_.node + "/heartbeat";
  auto r = http_.post(path, heartbeat_json(hb), "application/json");
  if (r.status == 400 && !hb.events.empty() &&
      error_message(r.body).find("events") != std::string::npos) {
    // A server older than node events: said once, then heartbeats go without them (the
    // XID counters still count every error).
    spdlog::warn(
        "the server refused the heartbeat's node events ({}); sending heartbeats without "
        "them from now on, {} event(s) dropped",
        error_message(r.body), hb.events.size());
    events_refused_ = true;
    hb.events = nlohmann::json::array();
    r = http_.post(path, heartbeat_json(hb), "application/json");
  }
  Outcome o = classify(r, "heartbeat", hb.metrics.size());
  if (o == Outcome::kOk)
    for (const auto& cmd : parse_commands(r.body))
      handle_command(cmd);
  // A rejected heartbeat's metrics would be rejected again as samples: drop them.
  return o == Outcome::kRejected ? Outcome::kOk : o;
}

Sender::Outcome Sender::classify(const HttpReply& r, const std::string& what, size_t count) {
  if (r.status >= 200 && r.status < 300) {
    on_success();
    return Outcome::kOk;
  }
  if (r.status == 401 || r.status == 403) {
    spdlog::error(
        "the server refused the agent's token on {} ({} {}); set a valid token with "
        "--token-file or METRICSD_TOKEN. Exiting with code 3",
        what, r.status, error_message(r.body));
    auth_failed_ = true;
    outbox_.request_stop();
    return Outcome::kAuth;
  }
  const bool retry = r.status == 0 || r.status == 408 || r.status == 429 || r.status >= 500;
  if (!retry) {
    spdlog::warn("{} rejected with {}: {}; dropped {} items", what, r.status, error_message(r.body),
                 count);
    on_success();  // the server is there and answering
    return Outcome::kRejected;
  }
  retry_after_ = parse_retry_after(r.retry_after);
  const std::string why =
      r.status == 0 ? r.error : std::to_string(r.status) + " " + error_message(r.body);
  if (last_failure_.empty())
    spdlog::warn("{} failed ({}); buffering and retrying with backoff", what, why);
  last_failure_ = why;
  on_retry();
  return Outcome::kRetry;
}

void Sender::on_retry() {
  ++outage_failures_;
  next_attempt_ = Clock::now() + retry_.next_delay(retry_after_);
}

void Sender::on_success() {
  if (!last_failure_.empty())
    spdlog::info(
        "server reachable again after {} failed attempts; delivering {} buffered "
        "samples and {} lines",
        outage_failures_, outbox_.pending_samples(), outbox_.pending_lines());
  last_failure_.clear();
  outage_failures_ = 0;
  retry_.reset();
  next_attempt_ = {};
}

void Sender::log_shedding() {
  if (uint64_t events = outbox_.take_shed_events())
    spdlog::warn("more than {} node events waiting: shed the {} oldest", Outbox::kMaxEvents,
                 events);
  auto [samples, lines] = outbox_.take_shed_counts();
  if (samples + lines > 0)
    spdlog::warn(
        "buffer full (--buffer-samples {}): shed the {} oldest samples and {} oldest "
        "line-protocol lines",
        options_.buffer_samples, samples, lines);
}

void Sender::handle_command(const AgentCommand& cmd) {
  if (!handled_commands_.insert(cmd.id).second) return;
  if (handled_commands_.size() > 1000) handled_commands_ = {cmd.id};
  bool done = false;
  std::string message;
  if (options_.command_hook.empty()) {
    message = "no --command-hook configured";
  } else {
    CommandSpec spec;
    spec.argv = {options_.command_hook, cmd.type, cmd.id};
    spec.stdin_data = cmd.whole.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    spec.timeout = seconds_ms(options_.hook_timeout_s);
    spec.max_output_bytes = kMaxHookMessageBytes;
    auto r = run_command(spec);
    done = r.ok();
    message = !r.started    ? r.error
              : r.timed_out ? "hook timed out"
              : done        ? r.out
                            : "hook exit code " + std::to_string(r.exit_code) + ": " + r.err;
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r'))
      message.pop_back();
    if (message.size() > kMaxHookMessageBytes) message.resize(kMaxHookMessageBytes);
  }
  spdlog::info("command {} ({}) {}: {}", cmd.id, cmd.type, done ? "done" : "failed", message);
  acknowledge(cmd, done, message);
}

void Sender::acknowledge(const AgentCommand& cmd, bool done, const std::string& message) {
  auto r = http_.post("/api/v1/nodes/" + options_.node + "/commands/" + cmd.id + "/ack",
                      ack_json(done, message), "application/json");
  switch (classify_ack_reply(r.status, r.body)) {
    case AckOutcome::kAcknowledged:
      spdlog::debug("command {} acknowledged as {}", cmd.id, done ? "done" : "failed");
      break;
    case AckOutcome::kNoEndpoint:
      // An older server: commands still run, their results stay in the agent's log.
      if (!ack_missing_logged_)
        spdlog::warn(
            "the server has no command acknowledgement endpoint (404 on ack of command {}: "
            "{}); commands run without being acknowledged",
            cmd.id, error_message(r.body));
      ack_missing_logged_ = true;
      break;
    case AckOutcome::kUnknownCommand:
      // The endpoint is there but has no such command for this node (deleted, or sent to
      // another node id): only this acknowledgement is lost.
      spdlog::warn("the server does not know command {} of node {} ({}); not acknowledged", cmd.id,
                   options_.node, error_message(r.body));
      break;
    case AckOutcome::kAlreadyAcked:
      spdlog::info("command {} was already acknowledged", cmd.id);
      break;
    case AckOutcome::kFailed:
      spdlog::warn(
          "acknowledging command {} failed: {}", cmd.id,
          r.status == 0 ? r.error : std::to_string(r.status) + " " + error_message(r.body));
      break;
  }
}

}  // namespace metricsd::tools
