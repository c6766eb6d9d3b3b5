// What the server reads from a request head before anything else, without I/O: the
// origin-form target split into the decoded path, its decoded segments and the query
// parameters, and the bearer token. Free of Beast and libpqxx, so the fuzz target
// (tests/fuzz/fuzz_http_request.cpp) links it alone.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/http_types.hpp"

namespace metricsd::server {

// Fills req.path and req.query from req.target and `segments` with the decoded path
// segments (for Router::match); false when the target is not a valid origin-form.
bool parse_target(api::Request& req, std::vector<std::string>& segments);

// The token a request carries, from the first of: the Authorization header (`Bearer <t>`,
// `Token <t>` as InfluxDB 2.x clients send it, or `Basic` with the token as the password
// and any user name, as InfluxDB 1.x clients and Telegraf send it); InfluxDB 1.x's query
// parameter `p` (its `u` is ignored); `access_token` when allowed (WebSocket upgrades).
// A header with another scheme, or a Basic one that does not decode, yields no token and
// `bad_scheme`: the query string is not read then.
struct RequestToken {
  std::string secret;  // empty: none
  bool bad_scheme = false;
};
RequestToken request_token(const api::Request& req, bool allow_query_token);

// The schemes request_token() reads, for the error that asks for a token.
inline constexpr std::string_view kTokenSchemes =
    "Authorization: Bearer <token>, Authorization: Token <token>, Basic auth with the token as "
    "password (any user name), or the query parameter p=<token>";

}  // namespace metricsd::server
