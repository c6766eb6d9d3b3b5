// Roles of API tokens and the access each route requires. admin > operator > viewer;
// agent is apart: it may write (metrics, heartbeats, job reports) and read its own
// node's commands, nothing else. Pure logic, no I/O.
#pragma once

#include <optional>
#include <string_view>

namespace metricsd {

enum class Role { kAgent, kViewer, kOperator, kAdmin };

// What a route requires. kPublic needs no token at all.
enum class Access {
  kPublic,     // operations: /healthz, /readyz, /metrics, /api/v1/version
  kWrite,      // ingest: agent, operator, admin
  kAgentRead,  // a node's commands: agents (a bound one: its node's only), viewer and up
  kViewer,     // reads: viewer, operator, admin
  kOperator,   // control: operator, admin
  kAdmin,      // tokens, configuration, audit
};

std::string_view role_name(Role r);
std::optional<Role> parse_role(std::string_view name);
std::string_view access_name(Access a);

// Whether a token of role `r` may use a route requiring `a` (kPublic: always).
bool role_allows(Role r, Access a);

}  // namespace metricsd
