// The fleet read routes; see nodes_routes.hpp.
#include "server/nodes_routes.hpp"

namespace metricsd::server {

void register_nodes_routes(Router& r, api::NodesHandlers& nodes) {
  r.add("GET", "/api/v1/nodes", Access::kViewer,
        [&nodes](api::Request& q) { return nodes.list(q); });
  r.add("GET", "/api/v1/nodes/{node_id}", Access::kViewer,
        [&nodes](api::Request& q) { return nodes.get(q); });
  r.add("GET", "/api/v1/summary", Access::kViewer,
        [&nodes](api::Request& q) { return nodes.summary(q); });
}

}  // namespace metricsd::server
