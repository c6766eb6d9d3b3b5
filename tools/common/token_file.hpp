// Where the agent and the simulator get their bearer token: the file named by --token-file
// (first line, surrounding whitespace trimmed) or else the METRICSD_TOKEN environment
// variable. The token itself is never logged.
#pragma once

#include <string>

namespace metricsd::tools {

// The token, or "" when neither source gives one. Throws std::runtime_error naming the file
// when it is given but unreadable or empty.
std::string load_token(const std::string& token_file);

}  // namespace metricsd::tools
