// What the server reads from a request head before anything else, without I/O: the
// origin-form target split into the decoded path, its decoded segments and the query
// parameters, and the bearer token. Free of Beast and libpqxx, so the fuzz target
// (tests/fuzz/fuzz_http_request.cpp) links it alone.
#pragma once

#include <string>
#include <vector>

#include "api/http_types.hpp"

namespace metricsd::server {

// Fills req.path and req.query from req.target and `segments` with the decoded path
// segments (for Router::match); false when the target is not a valid origin-form.
bool parse_target(api::Request& req, std::vector<std::string>& segments);

// The token in `Authorization: Bearer <t>` (or ?access_token= when allowed); empty if none.
std::string bearer_token(const api::Request& req, bool allow_query_token);

}  // namespace metricsd::server
