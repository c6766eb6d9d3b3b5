// The route table; see routes.hpp.
#include "server/routes.hpp"

namespace metricsd::server {

void register_routes(Router& r, Handlers& h) {
  auto& ops = h.ops;
  r.add("GET", "/healthz", [&ops](api::Request& q) { return ops.healthz(q); });
  r.add("GET", "/readyz", [&ops](api::Request& q) { return ops.readyz(q); });
  r.add("GET", "/metrics", [&ops](api::Request& q) { return ops.metrics(q); });
  r.add("GET", "/api/v1/version", [&ops](api::Request& q) { return ops.version(q); });
}

}  // namespace metricsd::server
