// The route table: every endpoint the daemon serves, one line each (method, path pattern,
// the access it requires, and the handler: an object of api::Endpoints and its member).
// The server binds it (server/routes.cpp), GET /api/v1/routes lists it, the security
// matrix test and the docs test check the daemon against it, and the HTTP fuzz target
// routes with it. Adding an endpoint is one line here and a handler member.
//
// HTTP(method, pattern, access, handlers, member): an HTTP route.
// WEBSOCKET(pattern, access): a GET that upgrades to a WebSocket (the token may come as
// ?access_token=, since browsers cannot set headers on an upgrade).
// Beast-free and handler-free: including this header links nothing.
#pragma once

#include <span>
#include <string_view>

#include "core/roles.hpp"

// clang-format off
#define METRICSD_ROUTES(HTTP, WEBSOCKET)                                                  \
  HTTP(GET,    "/healthz",                                         kPublic,    ops, healthz)         \
  HTTP(GET,    "/readyz",                                          kPublic,    ops, readyz)          \
  HTTP(GET,    "/metrics",                                         kPublic,    ops, metrics)         \
  HTTP(GET,    "/api/v1/version",                                  kPublic,    ops, version)         \
  HTTP(GET,    "/api/v1/routes",                                   kViewer,    ops, routes)          \
  HTTP(POST,   "/api/v1/metrics",                                  kWrite,     ingest, write_json)   \
  HTTP(POST,   "/api/v1/write",                                    kWrite,     ingest, write_line_protocol) \
  HTTP(POST,   "/write",                                           kWrite,     ingest, write_line_protocol) \
  HTTP(POST,   "/api/v2/write",                                    kWrite,     ingest, write_line_protocol) \
  HTTP(GET,    "/ping",                                            kPublic,    influx, ping)         \
  HTTP(GET,    "/health",                                          kPublic,    influx, health)       \
  HTTP(GET,    "/query",                                           kAgentRead, influx, query)        \
  HTTP(POST,   "/query",                                           kAgentRead, influx, query)        \
  HTTP(POST,   "/api/v1/prom/write",                               kWrite,     ingest, write_prometheus) \
  HTTP(POST,   "/api/v1/nodes/{node_id}/heartbeat",                kWrite,     ingest, heartbeat)    \
  HTTP(GET,    "/api/v1/events",                                   kViewer,    events, list)         \
  HTTP(GET,    "/api/v1/query",                                    kViewer,    query, query)         \
  HTTP(GET,    "/api/v1/latest",                                   kViewer,    query, latest)        \
  HTTP(GET,    "/api/v1/series",                                   kViewer,    query, series)        \
  HTTP(GET,    "/api/v1/metrics/{category}",                       kViewer,    query, category_latest) \
  HTTP(GET,    "/api/v1/metrics/history/{category}/{timeframe}",   kViewer,    query, category_history) \
  HTTP(GET,    "/api/v1/nodes",                                    kViewer,    nodes, list)          \
  HTTP(GET,    "/api/v1/nodes/{node_id}",                          kViewer,    nodes, get)           \
  HTTP(GET,    "/api/v1/summary",                                  kViewer,    nodes, summary)       \
  HTTP(POST,   "/api/v1/tokens",                                   kAdmin,     tokens, create)       \
  HTTP(GET,    "/api/v1/tokens",                                   kAdmin,     tokens, list)         \
  HTTP(DELETE, "/api/v1/tokens/{id}",                              kAdmin,     tokens, revoke)       \
  HTTP(GET,    "/api/v1/audit",                                    kAdmin,     tokens, audit)        \
  HTTP(GET,    "/api/v1/config",                                   kAdmin,     config, get)          \
  HTTP(POST,   "/api/v1/config/update",                            kAdmin,     config, update)       \
  HTTP(POST,   "/api/v1/nodes/{node_id}/commands",                 kOperator,  commands, create)     \
  HTTP(GET,    "/api/v1/nodes/{node_id}/commands",                 kAgentRead, commands, list)       \
  HTTP(POST,   "/api/v1/nodes/{node_id}/commands/{id}/ack",        kWrite,     commands, ack)        \
  HTTP(POST,   "/api/v1/fleet/commands",                           kOperator,  commands, create_fleet) \
  HTTP(GET,    "/api/v1/alerts",                                   kViewer,    alerts, active)       \
  HTTP(POST,   "/api/v1/alerts/ack",                               kOperator,  alerts, acknowledge)  \
  HTTP(GET,    "/api/v1/alerts/history",                           kViewer,    alerts, history)      \
  HTTP(GET,    "/api/v1/alerts/rules",                             kViewer,    alerts, rules)        \
  HTTP(POST,   "/api/v1/alerts/rules",                             kOperator,  alerts, create_rule)  \
  HTTP(PUT,    "/api/v1/alerts/rules/{id}",                        kOperator,  alerts, update_rule)  \
  HTTP(DELETE, "/api/v1/alerts/rules/{id}",                        kOperator,  alerts, delete_rule)  \
  HTTP(GET,    "/api/v1/alerts/silences",                          kViewer,    alerts, silences)     \
  HTTP(POST,   "/api/v1/alerts/silences",                          kOperator,  alerts, create_silence) \
  HTTP(DELETE, "/api/v1/alerts/silences/{id}",                     kOperator,  alerts, expire_silence) \
  HTTP(GET,    "/api/v1/alerts/receivers",                         kAdmin,     alerts, receivers)    \
  HTTP(POST,   "/api/v1/alerts/receivers",                         kAdmin,     alerts, create_receiver) \
  HTTP(PUT,    "/api/v1/alerts/receivers/{id}",                    kAdmin,     alerts, update_receiver) \
  HTTP(DELETE, "/api/v1/alerts/receivers/{id}",                    kAdmin,     alerts, delete_receiver) \
  HTTP(POST,   "/api/v1/admin/series/delete",                      kAdmin,     admin, delete_series) \
  HTTP(GET,    "/api/v1/admin/cardinality",                        kAdmin,     admin, cardinality)   \
  WEBSOCKET(   "/ws/metrics",                                      kViewer)
// clang-format on

namespace metricsd::api {

struct RouteEntry {
  std::string_view method;
  std::string_view pattern;
  Access access;
  bool websocket;
};

#define METRICSD_ROUTE_ENTRY_HTTP(method, pattern, access, handlers, member) \
  RouteEntry{#method, pattern, Access::access, false},
#define METRICSD_ROUTE_ENTRY_WEBSOCKET(pattern, access) \
  RouteEntry{"GET", pattern, Access::access, true},
inline constexpr RouteEntry kRouteEntries[] = {
    METRICSD_ROUTES(METRICSD_ROUTE_ENTRY_HTTP, METRICSD_ROUTE_ENTRY_WEBSOCKET)};
#undef METRICSD_ROUTE_ENTRY_HTTP
#undef METRICSD_ROUTE_ENTRY_WEBSOCKET

// The table as data, in declaration order.
inline constexpr std::span<const RouteEntry> route_table() {
  return kRouteEntries;
}

}  // namespace metricsd::api
