// The simulator's tick loop and senders (see sim_runner.hpp).
#include "tools/sim/sim_runner.hpp"

#include <signal.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "core/clock.hpp"
#include "tools/agent/payloads.hpp"
#include "tools/common/http_client.hpp"
#include "tools/sim/fleet_model.hpp"

namespace metricsd::tools {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr size_t kSamplesPerRequest = 5000;
constexpr auto kDrainTime = std::chrono::seconds(5);

struct Job {
  std::string kind;  // report bucket
  std::string path, body;
  size_t samples = 0;
  const std::string* node_id = nullptr;  // heartbeats only: whose commands the answer has
  size_t node_index = 0;
};

// Commands from heartbeat answers, from the senders to the tick loop (which applies them
// to the model before its next step). Bounded: beyond kMaxPending, commands are dropped
// (and acknowledged as failed).
class CommandInbox {
 public:
  static constexpr size_t kMaxPending = 10000;
  bool push(size_t node_index, std::string type) {
    std::lock_guard lock(mu_);
    if (pending_.size() >= kMaxPending) return false;
    pending_.emplace_back(node_index, std::move(type));
    return true;
  }
  std::vector<std::pair<size_t, std::string>> take() {
    std::lock_guard lock(mu_);
    return std::exchange(pending_, {});
  }

 private:
  std::mutex mu_;  // guards pending_
  std::vector<std::pair<size_t, std::string>> pending_;
};

// A bounded FIFO of jobs between the tick loop and the senders.
class JobQueue {
 public:
  explicit JobQueue(size_t capacity) : capacity_(capacity) {}
  bool push(Job job) {
    {
      std::lock_guard lock(mu_);
      if (items_.size() >= capacity_) return false;
      items_.push_back(std::move(job));
    }
    cv_.notify_one();
    return true;
  }
  // Blocks until a job or closed-and-empty (or past the drain deadline once closed).
  std::optional<Job> pop() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !items_.empty() || closed_; });
    if (items_.empty() || (closed_ && Clock::now() > drain_deadline_)) return std::nullopt;
    Job j = std::move(items_.front());
    items_.pop_front();
    return j;
  }
  void close(Clock::time_point drain_deadline) {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
      drain_deadline_ = drain_deadline;
    }
    cv_.notify_all();
  }
  std::deque<Job> take_rest() {
    std::lock_guard lock(mu_);
    return std::move(items_);
  }

 private:
  std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  std::deque<Job> items_;
  size_t capacity_;
  bool closed_ = false;
  Clock::time_point drain_deadline_{};
};

// At most `rate` acquisitions a second across threads, with up to a second's burst.
class RateLimiter {
 public:
  explicit RateLimiter(double rate) : period_(std::chrono::duration<double>(1.0 / rate)) {}
  void acquire() {
    Clock::time_point slot;
    {
      std::lock_guard lock(mu_);
      const auto now = Clock::now();
      const auto earliest =
          now - std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(1));
      if (next_ < earliest) next_ = earliest;
      slot = next_;
      next_ += std::chrono::duration_cast<Clock::duration>(period_);
    }
    std::this_thread::sleep_until(slot);
  }

 private:
  std::mutex mu_;  // guards next_
  std::chrono::duration<double> period_;
  Clock::time_point next_{};
};

// Sleeps until `until`; false when SIGTERM/SIGINT arrived (blocked, so taken here).
bool sleep_or_signal(Clock::time_point until) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  for (;;) {
    const auto left = until - Clock::now();
    if (left <= Clock::duration::zero()) return true;
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    const timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
    const int sig = ::sigtimedwait(&set, nullptr, &ts);
    if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("signal {}: stopping early", sig);
      return false;
    }
  }
}

std::string heartbeat_for(const NodeTick& t, const SimOptions& o) {
  static const char* kSites[] = {"lab", "rack-a", "rack-b"};
  HeartbeatBody hb;
  hb.type = kind_name(t.kind);
  hb.hostname = *t.node_id;
  hb.labels = {{"site", kSites[t.index % 3]}, {"sim", "true"}};
  hb.interval_s = o.interval_s;
  hb.state = {{"mode", t.report.mode}, {"throttle", t.report.throttle}};
  nlohmann::json gpus = nlohmann::json::array();
  for (const auto& s : t.report.labelled)
    if (s.metric == "gpu.mem_total_mb")
      gpus.push_back(
          {{"name", s.value > 30000 ? "RTX 6000 Ada" : "RTX 4090"}, {"vram_mb", s.value}});
  hb.info = {{"gpus", gpus}, {"simulated", true}};
  hb.metrics = t.report.metrics;
  return heartbeat_json(hb);
}

class SimSenders {
 public:
  SimSenders(const SimOptions& o, const std::string& token, JobQueue& queue, CommandInbox& inbox)
      : queue_(queue), inbox_(inbox), limiter_(o.rate), reports_(o.senders) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    const ServerUrl url = parse_server_url(o.server);
    for (size_t i = 0; i < o.senders; ++i)
      threads_.emplace_back([this, i, url, headers] { run(i, url, headers); });
  }
  void join() {
    for (auto& t : threads_)
      t.join();
  }
  bool auth_failed() const { return auth_failed_; }
  SimReport merged() const {
    SimReport r;
    for (const auto& one : reports_)
      r.merge(one);
    return r;
  }

 private:
  void run(size_t i, ServerUrl url, std::vector<std::pair<std::string, std::string>> headers) {
    HttpClient http(std::move(url), std::chrono::seconds(10), std::move(headers));
    SimReport& report = reports_[i];
    while (auto job = queue_.pop()) {
      if (auth_failed_) break;
      limiter_.acquire();
      HttpReply r = http.post(job->path, job->body, "application/json");
      TrafficCounts& c = report.by_kind[job->kind];
      ++c.requests;
      if (r.status >= 200 && r.status < 300) {
        ++c.ok;
        c.samples += job->samples;
        if (job->node_id)
          for (const auto& cmd : parse_commands(r.body))
            take_command(http, *job, cmd, c);
        continue;
      }
      ++c.failed;
      c.samples_failed += job->samples;
      const std::string key = r.status == 0 ? r.error : std::to_string(r.status);
      if (c.errors[key]++ == 0)
        spdlog::warn("{} failed: {}", job->path.substr(0, 40),
                     r.status == 0 ? r.error : key + " " + error_message(r.body));
      if ((r.status == 401 || r.status == 403) && !auth_failed_.exchange(true))
        spdlog::error(
            "the server refused the token ({}); stopping. Pass a valid --token-file "
            "or METRICSD_TOKEN",
            r.status);
    }
  }

  // Hands a command to the model and acknowledges it (the ack endpoint may not exist yet:
  // its absence is logged once; a command the server does not know, each time).
  void take_command(HttpClient& http, const Job& job, const AgentCommand& cmd, TrafficCounts& c) {
    ++c.commands;
    const bool known =
        cmd.type == "pause" || cmd.type == "resume" || cmd.type == "stop" || cmd.type == "restart";
    const bool queued = known && inbox_.push(job.node_index, cmd.type);
    spdlog::info("{}: command {} ({}){}", *job.node_id, cmd.id, cmd.type,
                 queued ? "" : " not applied");
    auto r = http.post("/api/v1/nodes/" + *job.node_id + "/commands/" + cmd.id + "/ack",
                       ack_json(queued, queued ? "simulated" : "unknown or too many commands"),
                       "application/json");
    switch (classify_ack_reply(r.status, r.body)) {
      case AckOutcome::kNoEndpoint:
        if (!ack_missing_logged_.exchange(true))
          spdlog::warn("the server has no command acknowledgement endpoint (404); acks skipped");
        break;
      case AckOutcome::kUnknownCommand:
        spdlog::warn("{}: the server does not know command {} ({}); not acknowledged", *job.node_id,
                     cmd.id, error_message(r.body));
        break;
      case AckOutcome::kFailed:
        spdlog::warn(
            "{}: acknowledging command {} failed: {}", *job.node_id, cmd.id,
            r.status == 0 ? r.error : std::to_string(r.status) + " " + error_message(r.body));
        break;
      case AckOutcome::kAcknowledged:
      case AckOutcome::kAlreadyAcked:
        break;
    }
  }

  JobQueue& queue_;
  CommandInbox& inbox_;
  RateLimiter limiter_;
  std::vector<SimReport> reports_;  // one per sender thread, merged after join
  std::vector<std::thread> threads_;
  std::atomic<bool> auth_failed_{false};
  std::atomic<bool> ack_missing_logged_{false};
};

}  // namespace

SimOutcome run_sim(const SimOptions& o, const std::string& token) {
  FleetConfig config;
  config.nodes = o.nodes;
  config.seed = o.seed;
  config.interval_s = o.interval_s;
  config.prefix = o.prefix;
  config.outage_chance_per_hour = o.outage_chance_per_hour;
  config.cliff.chance_per_hour = o.cliff_chance_per_hour;
  if (o.cliff_ramp_s > 0) config.cliff.ramp_s_min = config.cliff.ramp_s_max = o.cliff_ramp_s;
  FleetModel fleet(config);

  JobQueue queue(std::max<size_t>(1000, 4 * o.nodes));
  CommandInbox inbox;
  SimSenders senders(o, token, queue, inbox);
  SimReport skipped;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(o.duration_s));
  const auto interval =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.interval_s));
  spdlog::info("metricsd-sim: {} nodes every {} s for {} s to {} (seed {})", o.nodes, o.interval_s,
               o.duration_s, o.server, o.seed);
  uint64_t ticks = 0;
  auto next = start;
  while (!senders.auth_failed()) {
    if (next >= end) {  // no tick left: the run still lasts its whole duration
      sleep_or_signal(end);
      break;
    }
    if (!sleep_or_signal(next)) break;
    ++ticks;
    const int64_t ts = wall_ms();
    for (const auto& [index, type] : inbox.take())
      fleet.apply_command(index, type);
    std::map<std::string, std::vector<Sample>> labelled;  // by kind
    for (auto& t : fleet.step(ts)) {
      if (!t.online) continue;
      const std::string kind = kind_name(t.kind);
      Job hb{kind,
             "/api/v1/nodes/" + *t.node_id + "/heartbeat",
             heartbeat_for(t, o),
             t.report.metrics.size(),
             t.node_id,
             t.index};
      if (!queue.push(std::move(hb))) ++skipped.by_kind[kind].skipped;
      for (auto& s : t.report.labelled) {
        s.node = *t.node_id;
        labelled[kind].push_back(std::move(s));
      }
    }
    for (auto& [kind, samples] : labelled) {
      for (size_t i = 0; i < samples.size(); i += kSamplesPerRequest) {
        std::vector<Sample> part(
            samples.begin() + i,
            samples.begin() + std::min(samples.size(), i + kSamplesPerRequest));
        Job j{kind, "/api/v1/metrics", metrics_json("", part), part.size()};
        if (!queue.push(std::move(j))) ++skipped.by_kind[kind].skipped;
      }
    }
    next += interval;
    if (next < Clock::now()) next = Clock::now();  // the tick took too long: do not burst
  }
  queue.close(Clock::now() + kDrainTime);
  senders.join();
  for (const auto& j : queue.take_rest())
    ++skipped.by_kind[j.kind].skipped;

  SimOutcome out;
  out.report = senders.merged();
  out.report.merge(skipped);
  out.report.ticks = ticks;
  out.report.nodes = o.nodes;
  out.report.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  out.auth_failed = senders.auth_failed();
  return out;
}

}  // namespace metricsd::tools
