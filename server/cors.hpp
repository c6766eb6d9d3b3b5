// CORS for browser dashboards on other origins (http.cors_origins: a comma-separated
// list of origins, "*" for any, empty for none) and the security headers every answer
// carries. No Beast here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/http_types.hpp"

namespace metricsd::server {

class CorsPolicy {
 public:
  // Throws std::invalid_argument naming a malformed origin.
  explicit CorsPolicy(std::string_view setting);

  bool allows(std::string_view origin) const;
  // A preflight: OPTIONS with Origin and Access-Control-Request-Method.
  static bool is_preflight(const api::Request& req);
  // The 204 answer to a preflight (without CORS headers when the origin is not allowed,
  // which the browser treats as a refusal).
  api::Response preflight(const api::Request& req) const;
  // Adds Access-Control-Allow-Origin (and Vary) to an answer when the origin is allowed.
  void apply(const api::Request& req, api::Response& res) const;
  // A WebSocket upgrade's Origin (browsers always send one, other clients usually none;
  // the handshake is not subject to CORS, so the server must check it): allowed when the
  // request has none, when http.cors_origins is empty (no policy), when the setting allows
  // it, or when it is the server's own origin (scheme and the request's Host).
  bool allows_ws_origin(const api::Request& req) const;

 private:
  bool any_ = false;
  std::vector<std::string> origins_;
};

// nosniff, frame denial, no referrer, no caching of API answers, a CSP that allows
// nothing (answers are data, never pages); HSTS when served over TLS.
void add_security_headers(api::Response& res, bool tls);

}  // namespace metricsd::server
