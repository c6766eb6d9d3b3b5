// metricsd-agent's threads: the collector (every interval: measure the machine, run --exec,
// hand both to the Outbox), the sender (see sender.hpp), the optional line-protocol port,
// and the caller's thread, which waits for SIGTERM/SIGINT and then stops the others (the
// sender makes its last flush). --once collects twice a second apart (rates need two
// snapshots), delivers and returns.
#pragma once

#include "tools/agent/agent_options.hpp"

namespace metricsd::tools {

// Returns the process exit code. SIGTERM, SIGINT and SIGPIPE must already be blocked in the
// calling thread (so every thread inherits the mask and only sigtimedwait sees them).
int run_agent(const AgentOptions& options, const std::string& token);

}  // namespace metricsd::tools
