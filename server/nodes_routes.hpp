// The routes of the fleet read endpoints (GET /api/v1/nodes, /api/v1/nodes/{node_id},
// /api/v1/summary), registered apart from the main route table.
#pragma once

#include "api/nodes_handlers.hpp"
#include "server/router.hpp"

namespace metricsd::server {

void register_nodes_routes(Router& router, api::NodesHandlers& nodes);

}  // namespace metricsd::server
