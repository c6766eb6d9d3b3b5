// The control routes; see control_routes.hpp.
#include "server/control_routes.hpp"

namespace metricsd::server {

void register_control_routes(Router& r, api::TokenHandlers& tokens, api::CommandHandlers& commands,
                             api::ConfigHandlers& config) {
  auto& t = tokens;
  r.add("POST", "/api/v1/tokens", Access::kAdmin, [&t](api::Request& q) { return t.create(q); });
  r.add("GET", "/api/v1/tokens", Access::kAdmin, [&t](api::Request& q) { return t.list(q); });
  r.add("DELETE", "/api/v1/tokens/{id}", Access::kAdmin,
        [&t](api::Request& q) { return t.revoke(q); });
  r.add("GET", "/api/v1/audit", Access::kAdmin, [&t](api::Request& q) { return t.audit(q); });

  auto& g = config;
  r.add("GET", "/api/v1/config", Access::kAdmin, [&g](api::Request& q) { return g.get(q); });
  r.add("POST", "/api/v1/config/update", Access::kAdmin,
        [&g](api::Request& q) { return g.update(q); });

  auto& c = commands;
  r.add("POST", "/api/v1/nodes/{node_id}/commands", Access::kOperator,
        [&c](api::Request& q) { return c.create(q); });
  r.add("GET", "/api/v1/nodes/{node_id}/commands", Access::kAgentRead,
        [&c](api::Request& q) { return c.list(q); });
  r.add("POST", "/api/v1/nodes/{node_id}/commands/{id}/ack", Access::kWrite,
        [&c](api::Request& q) { return c.ack(q); });
  r.add("POST", "/api/v1/fleet/commands", Access::kOperator,
        [&c](api::Request& q) { return c.create_fleet(q); });
}

}  // namespace metricsd::server
