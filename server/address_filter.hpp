// AddressFilter: the network.* address rules (core/network_policy.hpp) as the server
// applies them, read from LiveSettings each time, so a change through
// POST /api/v1/config/update holds for the next connection and request.
//   - admit(): at accept, before anything is read. network.deny and network.allow refuse
//     the connection; the caller closes it (cheap under a flood: no session, no read).
//   - check_route(): after routing, before the token is looked up (no database work, no
//     per-address auth budget spent): network.allow_write / allow_operator / allow_admin
//     refuse a route of their level with 403.
// Every refusal is counted (metricsd_http_refused_by_address_total{list}); the log gets
// the first and then at most one line every 10 s, with the number left out since.
//
// Threads: any io thread. The counters are atomics; the log's pacing is two atomics.
#pragma once

#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <optional>
#include <string_view>

#include "api/http_types.hpp"
#include "core/live_settings.hpp"
#include "core/prom.hpp"
#include "core/roles.hpp"

namespace metricsd::server {

class AddressFilter {
 public:
  AddressFilter(const LiveSettings& live, prom::Registry& metrics);

  // Whether a connection from `peer` may be served; a refusal is counted and logged.
  bool admit(const boost::asio::ip::address& peer);
  // nullopt when `req` (its remote_addr and route) may go on to a route requiring
  // `access`; otherwise the 403 that refuses it, counted and logged.
  std::optional<api::Response> check_route(const api::Request& req, Access access);

 private:
  // Counts the refusal by `list` and logs `what` unless a line went out in the last 10 s.
  void refused(std::string_view list, std::string_view what);

  const LiveSettings& live_;
  prom::Family<prom::Counter>& refused_;
  std::atomic<int64_t> next_log_ms_{0};  // steady_ms() before which refusals are not logged
  std::atomic<int64_t> unlogged_{0};     // refusals not logged since the last line
};

}  // namespace metricsd::server
