// metricsd-sim's run: the calling thread ticks the FleetModel every interval and turns each
// tick into requests (one heartbeat per online node, labelled samples batched per kind on
// POST /api/v1/metrics); a few sender threads, each with one keep-alive connection, send
// them under a shared requests/s limit. The job queue is bounded: what does not fit (the
// server or the rate cannot keep up) is skipped and counted, so the model never runs behind
// the wall clock. Ends at --duration or on SIGTERM/SIGINT (which must be blocked in the
// calling thread), gives the senders a few seconds to drain, and returns the report.
#pragma once

#include "tools/sim/sim_options.hpp"
#include "tools/sim/sim_report.hpp"

namespace metricsd::tools {

struct SimOutcome {
  SimReport report;
  bool auth_failed = false;
};

SimOutcome run_sim(const SimOptions& options, const std::string& token);

}  // namespace metricsd::tools
