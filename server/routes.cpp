// The route table; see routes.hpp.
#include "server/routes.hpp"

namespace metricsd::server {

void register_routes(Router& r, Handlers& h) {
  auto& ops = h.ops;
  r.add("GET", "/healthz", [&ops](api::Request& q) { return ops.healthz(q); });
  r.add("GET", "/readyz", [&ops](api::Request& q) { return ops.readyz(q); });
  r.add("GET", "/metrics", [&ops](api::Request& q) { return ops.metrics(q); });
  r.add("GET", "/api/v1/version", [&ops](api::Request& q) { return ops.version(q); });

  auto& in = h.ingest;
  r.add("POST", "/api/v1/metrics", [&in](api::Request& q) { return in.write_json(q); });
  r.add("POST", "/api/v1/write", [&in](api::Request& q) { return in.write_line_protocol(q); });
  r.add("POST", "/write", [&in](api::Request& q) { return in.write_line_protocol(q); });
  r.add("POST", "/api/v1/nodes/{node_id}/heartbeat",
        [&in](api::Request& q) { return in.heartbeat(q); });

  auto& ev = h.events;
  r.add("GET", "/api/v1/events", [&ev](api::Request& q) { return ev.list(q); });

  auto& qh = h.query;
  r.add("GET", "/api/v1/query", [&qh](api::Request& q) { return qh.query(q); });
  r.add("GET", "/api/v1/latest", [&qh](api::Request& q) { return qh.latest(q); });
  r.add("GET", "/api/v1/series", [&qh](api::Request& q) { return qh.series(q); });
  r.add("GET", "/api/v1/metrics/{category}",
        [&qh](api::Request& q) { return qh.category_latest(q); });
  r.add("GET", "/api/v1/metrics/history/{category}/{timeframe}",
        [&qh](api::Request& q) { return qh.category_history(q); });
}

}  // namespace metricsd::server
