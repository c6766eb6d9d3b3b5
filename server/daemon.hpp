// The daemon's commands: `serve` (the lifecycle: data dir lock, embedded PostgreSQL,
// database start-up, HTTP, signals, drain) and `migrate`. Each returns the exit code.
#pragma once

#include "core/settings.hpp"

namespace metricsd::server {

int serve(const Settings& settings);
int migrate(const Settings& settings);

}  // namespace metricsd::server
