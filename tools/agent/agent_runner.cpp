// The agent's threads and its collection loop (see agent_runner.hpp).
#include "tools/agent/agent_runner.hpp"

#include <signal.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <thread>

#include "core/clock.hpp"
#include "tools/agent/command_runner.hpp"
#include "tools/agent/lp_forward.hpp"
#include "tools/agent/lp_listener.hpp"
#include "tools/agent/nvml_collector.hpp"
#include "tools/agent/nvml_library.hpp"
#include "tools/agent/outbox.hpp"
#include "tools/agent/sender.hpp"
#include "tools/agent/system_collector.hpp"
#include "tools/agent/xid_codes.hpp"
#include "tools/agent/xid_watcher.hpp"

namespace metricsd::tools {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

milliseconds seconds_ms(double s) {
  return milliseconds(static_cast<int64_t>(s * 1000));
}

// Measures the machine and runs --exec each interval. Logs a failure when it starts or
// changes, not on every interval.
class CollectionLoop {
 public:
  CollectionLoop(const AgentOptions& o, Outbox& outbox) : options_(o), outbox_(outbox) {
    CollectorConfig config;
    config.proc_root = o.proc_root;
    config.sys_root = o.sys_root;
    config.per_core = o.per_core;
    choose_gpu_source(o, config);
    config.gpu_timeout =
        std::clamp(seconds_ms(o.interval_s), milliseconds(1000), milliseconds(5000));
    collector_ = std::make_unique<SystemCollector>(std::move(config));
  }

  void collect_once() {
    Collection c = collector_->collect(wall_ms(), steady_s());
    for (const auto& n : c.gpu_notices)
      log_notice(n);
    if (xid_) {
      for (const auto& n : xid_->take_notices())
        log_notice(n);
      auto counters = xid_->counters(c.ts_ms);
      c.labelled.insert(c.labelled.end(), counters.begin(), counters.end());
      for (const auto& e : xid_->take_events()) {
        const std::string what = xid_description(e.code);
        spdlog::warn("GPU {}: XID {}{}", e.gpu, e.code, what.empty() ? "" : " (" + what + ")");
        c.events.push_back(e.to_event());
      }
    }
    report("nvidia-smi", c.gpu_error, gpu_error_);
    // Logged when the count changes, not every interval.
    if (c.gpu_garbage_lines != gpu_garbage_lines_ && c.gpu_garbage_lines > 0)
      spdlog::warn("nvidia-smi printed {} lines that are not GPU rows; skipped",
                   c.gpu_garbage_lines);
    gpu_garbage_lines_ = c.gpu_garbage_lines;
    const int64_t ts_ns = c.ts_ms * 1000000;
    outbox_.add_collection(std::move(c));
    if (!options_.exec.empty()) run_exec(ts_ns);
  }

  // Primes the rate counters without sending (for --once).
  void prime() { collector_->collect(wall_ms(), steady_s()); }

  void run() {
    auto next = Clock::now();
    while (outbox_.sleep_until(next)) {
      collect_once();
      next += seconds_ms(options_.interval_s);
      if (next < Clock::now()) next = Clock::now();  // fell behind: do not burst
    }
  }

 private:
  void run_exec(int64_t ts_ns) {
    CommandSpec spec;
    spec.argv = {"/bin/sh", "-c", options_.exec};
    spec.timeout = seconds_ms(options_.exec_timeout_s);
    spec.max_output_bytes = 4 << 20;
    auto r = run_command(spec);
    std::string error =
        !r.started         ? r.error
        : r.timed_out      ? "timed out after " + std::to_string(options_.exec_timeout_s) + " s"
        : r.exit_code != 0 ? "exit code " + std::to_string(r.exit_code) + ": " + r.err
                           : "";
    report("--exec", error, exec_error_);
    if (r.out_truncated) spdlog::warn("--exec printed more than 4 MiB; the rest was dropped");
    std::vector<std::string> lines;
    size_t garbage = 0;
    std::string first_why;
    std::string_view out(r.out);
    while (!out.empty()) {
      auto nl = out.find('\n');
      auto p = prepare_lp_line(out.substr(0, nl), options_.node, ts_ns);
      if (p.kind == LpLineKind::kLine) lines.push_back(std::move(p.line));
      if (p.kind == LpLineKind::kGarbage && garbage++ == 0) first_why = p.why;
      if (nl == std::string_view::npos) break;
      out.remove_prefix(nl + 1);
    }
    if (garbage > 0 && garbage != exec_garbage_lines_)  // logged when it changes
      spdlog::warn("--exec printed {} malformed line-protocol lines (first: {}); skipped", garbage,
                   first_why);
    exec_garbage_lines_ = garbage;
    outbox_.add_lines(std::move(lines));
  }

  // NVML first when it loads (auto, nvml), else nvidia-smi on PATH (auto, nvidia-smi).
  // A source asked for by name that cannot work fails the start.
  void choose_gpu_source(const AgentOptions& o, CollectorConfig& config) {
    if (o.gpu_source == "none") return;
    if (o.gpu_source == "auto" || o.gpu_source == "nvml") {
      std::string error;
      nvml_lib_ = NvmlLibrary::open(o.nvml_library, error);
      if (nvml_lib_) {
        NvmlCollectorOptions n;
        n.top_processes = o.gpu_processes;
        n.proc_root = o.proc_root;
        nvml_ = std::make_unique<NvmlCollector>(*nvml_lib_, n);
        xid_ = std::make_unique<XidWatcher>(*nvml_lib_, nvml_->handles());
        config.nvml = nvml_.get();
        spdlog::info("GPUs from NVML ({}): {} GPU(s), driver {}{}", o.nvml_library,
                     nvml_->gpus_info().size(), nvml_->driver_version(),
                     xid_->watching() ? ", watching XID errors" : "");
        return;
      }
      if (o.gpu_source == "nvml") throw std::runtime_error("--gpu-source nvml: " + error);
      spdlog::info("NVML not usable ({}); trying nvidia-smi", error);
    }
    config.nvidia_smi = find_on_path("nvidia-smi");
    if (config.nvidia_smi.empty() && o.gpu_source == "nvidia-smi")
      throw std::runtime_error("--gpu-source nvidia-smi: nvidia-smi is not on PATH");
    if (!config.nvidia_smi.empty()) spdlog::info("GPUs from {}", config.nvidia_smi);
  }

  static void log_notice(const std::string& text) {
    if (text.find("left out") != std::string::npos || text.find(" is back") != std::string::npos)
      spdlog::info("{}", text);
    else
      spdlog::warn("{}", text);
  }

  static void report(const char* what, const std::string& error, std::string& last) {
    if (error == last) return;
    if (error.empty())
      spdlog::info("{} works again", what);
    else
      spdlog::warn("{} failed: {}", what, error);
    last = error;
  }

  const AgentOptions& options_;
  Outbox& outbox_;
  // Destroyed in reverse: the XID thread stops before NVML is shut down.
  std::unique_ptr<NvmlLibrary> nvml_lib_;
  std::unique_ptr<NvmlCollector> nvml_;
  std::unique_ptr<XidWatcher> xid_;
  std::unique_ptr<SystemCollector> collector_;
  std::string gpu_error_, exec_error_;
  size_t gpu_garbage_lines_ = 0, exec_garbage_lines_ = 0;
};

// Waits for SIGTERM/SIGINT (blocked in every thread) or for the outbox to be stopped by
// the sender (token refused).
void wait_for_stop(Outbox& outbox) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  const timespec tick{0, 200 * 1000 * 1000};
  while (!outbox.stopping()) {
    int sig = ::sigtimedwait(&set, nullptr, &tick);
    if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("{}: last flush, then exit", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      outbox.request_stop();
    }
  }
}

}  // namespace

int run_agent(const AgentOptions& options, const std::string& token) {
  Outbox outbox(options.buffer_samples);
  CollectionLoop loop(options, outbox);
  Sender sender(options, outbox, token);
  std::unique_ptr<LpListener> listener;
  if (!options.listen_lp.empty()) {
    listener = std::make_unique<LpListener>(options.listen_lp, options.node, outbox);
    listener->start();
  }
  spdlog::info("metricsd-agent: node {} type {} every {} s to {}", options.node, options.type,
               options.interval_s, options.server);

  if (options.once) {
    loop.prime();
    std::this_thread::sleep_for(std::min(seconds_ms(options.interval_s), milliseconds(1000)));
    loop.collect_once();
    const bool delivered = sender.flush(Clock::now() + seconds_ms(options.flush_timeout_s));
    if (listener) listener->stop();
    if (sender.auth_failed()) return kExitAuth;
    return delivered ? kExitOk : kExitFailure;
  }

  int code = kExitOk;
  std::thread send_thread([&] { code = sender.run(); });
  std::thread collect_thread([&] { loop.run(); });
  wait_for_stop(outbox);
  collect_thread.join();
  if (listener) listener->stop();
  send_thread.join();
  spdlog::info("metricsd-agent stopped");
  return code;
}

}  // namespace metricsd::tools
