// Endpoints: the handler objects the route table (api/route_table.hpp) names, by the names
// it uses. Owned by the App; the server binds each route to one member of one of them.
#pragma once

#include "api/admin_handlers.hpp"
#include "api/alert_handlers.hpp"
#include "api/command_handlers.hpp"
#include "api/config_handlers.hpp"
#include "api/events_handlers.hpp"
#include "api/influx_compat_handlers.hpp"
#include "api/ingest_handlers.hpp"
#include "api/nodes_handlers.hpp"
#include "api/ops_handlers.hpp"
#include "api/query_handlers.hpp"
#include "api/token_handlers.hpp"

namespace metricsd::api {

struct Endpoints {
  OpsHandlers& ops;
  IngestHandlers& ingest;
  EventsHandlers& events;
  QueryHandlers& query;
  NodesHandlers& nodes;
  TokenHandlers& tokens;
  CommandHandlers& commands;
  ConfigHandlers& config;
  AlertHandlers& alerts;
  AdminHandlers& admin;
  InfluxCompatHandlers& influx;
};

}  // namespace metricsd::api
