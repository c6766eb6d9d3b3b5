// Authorizer: every permission decision a request meets, behind one interface, so each
// refusal is counted (metricsd_auth_denied_total{reason}) and, on admin routes, audited
// in one place. The server calls authorize() with the route's access before the body is
// read; handlers call require_node() and charge_samples() once they know what a request
// writes. Implemented by server::Authenticator (tokens, roles, rate limits).
//
// Threads: every member may be called from any io thread concurrently.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <string_view>

#include "api/http_types.hpp"
#include "core/roles.hpp"

namespace metricsd::api {

class Authorizer {
 public:
  virtual ~Authorizer() = default;

  // False with auth.mode=disabled: every request passes as an admin.
  virtual bool enabled() const = 0;

  // Sets req.principal when the request may use a route requiring `access`, else throws
  // ApiError: 401 (no or unknown token), 403 (role too weak, or a {node_id} in the path
  // that a node-bound agent token may not act for), 429 (the token's request budget).
  // `allow_query_token`: the token may come as ?access_token= (WebSocket upgrades).
  virtual boost::asio::awaitable<void> authorize(Request& req, Access access,
                                                 bool allow_query_token) = 0;

  // An open stream's periodic re-check of the request it was authorized with (revoked,
  // expired, role changed): the same answers as authorize(), but it spends no request
  // budget, neither the token's nor its address's, so idle streams cost their token
  // nothing. Never 429.
  virtual boost::asio::awaitable<void> recheck(Request& req, Access access,
                                               bool allow_query_token) = 0;

  // An agent token bound to a node acts for that node only: throws ApiError 403 when the
  // request's principal may not act for `node`.
  virtual void require_node(const Request& req, std::string_view node) = 0;

  // Charges a write's samples to its token's sample budget; throws ApiError 429 (the
  // caller then stores nothing of the request).
  virtual void charge_samples(const Request& req, size_t samples) = 0;
};

}  // namespace metricsd::api
