// One keep-alive HTTP/1.1 connection that POSTs its ring of pre-built bodies back to back (one
// request in flight) until the run ends, reconnecting after any failure, and records what
// completed inside the measured window. Runs as an Asio coroutine on an io_context of its own,
// on the caller's thread; it touches only its own SenderStats, which the caller reads after
// run_sender returns.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bench/workload.hpp"

namespace metricsd::bench {

using Clock = std::chrono::steady_clock;

// Where and how to send; constant during the run, shared by all senders.
struct SenderTarget {
  std::vector<boost::asio::ip::tcp::endpoint> endpoints;
  std::string host;    // Host header value
  std::string target;  // request target: path and query
  std::string content_type;
  std::vector<std::string> headers;  // extra "Name: value" lines
  Clock::duration timeout{};
};

struct RunWindow {
  Clock::time_point measure_from;  // end of the warm-up
  Clock::time_point end;           // no request starts at or after this
};

struct SenderStats {
  uint64_t requests_ok = 0;  // 2xx answers completed in the window
  uint64_t samples_ok = 0;
  uint64_t bytes_ok = 0;                   // request bytes (header and body) of those
  std::vector<uint32_t> latencies_us;      // of each 2xx answer in the window
  std::map<std::string, uint64_t> errors;  // status code, "connection" or "timeout" -> count
  uint64_t warmup_errors = 0;              // any error before the window
  uint64_t reconnects = 0;                 // connections opened after the first
  uint64_t timestamp_wraps = 0;            // bodies whose rounds wrapped past now
  Clock::time_point first_error_at = Clock::time_point::max();
  std::string first_error;  // what failed first, with the answer's body if any
};

// Sends ring[i % size] restamped for generation i / size, for i = 0, 1, ... until window.end.
// The ring is one connection's slots as RingPlan places them; `plan` gives each generation's
// line shift. Returns once the last request has finished or been abandoned.
void run_sender(const SenderTarget& target, const WorkloadSpec& spec, const RingPlan& plan,
                std::vector<Payload> ring, const RunWindow& window, SenderStats& stats);

}  // namespace metricsd::bench
