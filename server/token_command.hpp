// `metricsd token create|list|revoke`: token administration from the command line. It
// works with the daemon stopped (it starts the embedded PostgreSQL for the moment) or
// running (it connects to the running one's socket); revocations reach running daemons
// through NOTIFY at once.
#pragma once

#include "core/cli.hpp"
#include "core/settings.hpp"

namespace metricsd::server {

// The exit code: 0, 1 (failure, logged), 2 (bad arguments).
int token_command(const Settings& settings, const CommandLine& cli);

}  // namespace metricsd::server
