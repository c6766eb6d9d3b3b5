// The route table; see routes.hpp.
#include "server/routes.hpp"

namespace metricsd::server {

void register_routes(Router& r, Handlers& h) {
  auto& ops = h.ops;
  r.add("GET", "/healthz", Access::kPublic, [&ops](api::Request& q) { return ops.healthz(q); });
  r.add("GET", "/readyz", Access::kPublic, [&ops](api::Request& q) { return ops.readyz(q); });
  r.add("GET", "/metrics", Access::kPublic, [&ops](api::Request& q) { return ops.metrics(q); });
  r.add("GET", "/api/v1/version", Access::kPublic,
        [&ops](api::Request& q) { return ops.version(q); });

  // The route table itself, with each route's required access (for clients and tests).
  r.add("GET", "/api/v1/routes", Access::kViewer,
        [&r](api::Request&) -> boost::asio::awaitable<api::Response> {
          nlohmann::json out = nlohmann::json::array();
          for (const auto& route : r.routes())
            out.push_back({{"method", route.method},
                           {"path", route.pattern},
                           {"access", std::string(access_name(route.access))}});
          co_return api::json_response(200, {{"routes", out}});
        });

  auto& in = h.ingest;
  r.add("POST", "/api/v1/metrics", Access::kWrite,
        [&in](api::Request& q) { return in.write_json(q); });
  r.add("POST", "/api/v1/write", Access::kWrite,
        [&in](api::Request& q) { return in.write_line_protocol(q); });
  r.add("POST", "/write", Access::kWrite,
        [&in](api::Request& q) { return in.write_line_protocol(q); });
  r.add("POST", "/api/v1/nodes/{node_id}/heartbeat", Access::kWrite,
        [&in](api::Request& q) { return in.heartbeat(q); });

  auto& ev = h.events;
  r.add("GET", "/api/v1/events", Access::kViewer, [&ev](api::Request& q) { return ev.list(q); });

  auto& qh = h.query;
  r.add("GET", "/api/v1/query", Access::kViewer, [&qh](api::Request& q) { return qh.query(q); });
  r.add("GET", "/api/v1/latest", Access::kViewer, [&qh](api::Request& q) { return qh.latest(q); });
  r.add("GET", "/api/v1/series", Access::kViewer, [&qh](api::Request& q) { return qh.series(q); });
  r.add("GET", "/api/v1/metrics/{category}", Access::kViewer,
        [&qh](api::Request& q) { return qh.category_latest(q); });
  r.add("GET", "/api/v1/metrics/history/{category}/{timeframe}", Access::kViewer,
        [&qh](api::Request& q) { return qh.category_history(q); });
}

}  // namespace metricsd::server
