// Route binding; see routes.hpp.
#include "server/routes.hpp"

#include "api/route_table.hpp"

namespace metricsd::server {

void register_routes(Router& r, api::Endpoints& h, Admission writes) {
  // The ingest handlers' routes store samples (POST /api/v1/metrics, /api/v1/write, /write,
  // heartbeats): `writes` may refuse them before their bodies are read.
  constexpr std::string_view kWriteHandlers = "ingest";
#define METRICSD_BIND_HTTP(method, pattern, access, handlers, member)                           \
  r.add(                                                                                        \
      #method, pattern, Access::access, [&h](api::Request& q) { return h.handlers.member(q); }, \
      std::string_view(#handlers) == kWriteHandlers ? writes : Admission{});
#define METRICSD_BIND_WEBSOCKET(pattern, access) r.add_websocket(pattern, Access::access);
  METRICSD_ROUTES(METRICSD_BIND_HTTP, METRICSD_BIND_WEBSOCKET)
#undef METRICSD_BIND_HTTP
#undef METRICSD_BIND_WEBSOCKET
}

}  // namespace metricsd::server
