// Binds the route table (api/route_table.hpp) to the handler objects: one router entry
// per line of the table.
#pragma once

#include "api/endpoints.hpp"
#include "server/router.hpp"

namespace metricsd::server {

// `writes` (may be empty) is the admission of every route of the ingest handlers (the
// sample writes and heartbeats): checked before their bodies are read.
void register_routes(Router& router, api::Endpoints& endpoints, Admission writes = {});

}  // namespace metricsd::server
