// Binds the route table (api/route_table.hpp) to the handler objects: one router entry
// per line of the table.
#pragma once

#include "api/endpoints.hpp"
#include "server/router.hpp"

namespace metricsd::server {

void register_routes(Router& router, api::Endpoints& endpoints);

}  // namespace metricsd::server
