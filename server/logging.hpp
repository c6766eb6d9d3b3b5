// Log set-up: spdlog to stderr, as text or one JSON object a line, UTC times.
#pragma once

#include <string>

namespace metricsd::server {

// level: trace|debug|info|warn|error|off; format: text|json.
void setup_logging(const std::string& level, const std::string& format);

}  // namespace metricsd::server
