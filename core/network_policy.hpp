// NetworkPolicy: the network.* address rules, compiled from the settings. Checked by the
// server before anything else a peer sends is looked at:
//   - a connection: network.deny refuses its address everywhere; a non-empty network.allow
//     refuses every address outside it;
//   - a request, before its token is looked up: a non-empty network.allow_write,
//     allow_operator or allow_admin refuses addresses outside it on the routes requiring
//     exactly that access (Access::kWrite, kOperator, kAdmin). The lists do not nest: an
//     admin route checks allow_admin only. Other routes (public, reads, an agent's command
//     list) have no list of their own.
// Pure logic, no I/O; immutable once built, so one may be shared by every thread.
#pragma once

#include <string_view>

#include "core/cidr.hpp"
#include "core/roles.hpp"
#include "core/settings.hpp"

namespace metricsd {

struct NetworkPolicy {
  CidrList deny, allow, allow_write, allow_operator, allow_admin;

  // Throws SettingsError naming the setting and its bad entry (resolve_settings has
  // checked them already, so a daemon's settings never do).
  static NetworkPolicy from(const Settings& s);

  // Which list refuses a connection from `peer` ("deny" or "allow"), or "" to accept it.
  std::string_view refuse_connection(const IpAddress& peer) const;
  // Which list refuses a request from `peer` to a route requiring `access` ("allow_write",
  // "allow_operator", "allow_admin"), or "".
  std::string_view refuse_route(const IpAddress& peer, Access access) const;
  // The list guarding routes of `access`, or null when there is none (or it is empty).
  const CidrList* route_list(Access access) const;
  // Its name: "allow_write", "allow_operator", "allow_admin"; "" for other access.
  static std::string_view route_list_name(Access access);
};

}  // namespace metricsd
