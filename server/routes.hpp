// The route table: every endpoint the daemon serves, in one place.
#pragma once

#include "api/events_handlers.hpp"
#include "api/ingest_handlers.hpp"
#include "api/ops_handlers.hpp"
#include "api/query_handlers.hpp"
#include "server/router.hpp"

namespace metricsd::server {

struct Handlers {
  api::OpsHandlers& ops;
  api::IngestHandlers& ingest;
  api::EventsHandlers& events;
  api::QueryHandlers& query;
};

void register_routes(Router& router, Handlers& h);

}  // namespace metricsd::server
