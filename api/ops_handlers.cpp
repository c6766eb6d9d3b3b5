// Operational endpoints; see ops_handlers.hpp.
#include "api/ops_handlers.hpp"

#include "api/disk_refusal.hpp"
#include "api/route_table.hpp"
#include "core/version.hpp"

namespace metricsd::api {

OpsHandlers::OpsHandlers(storage::Database& db, prom::Registry& metrics, const DiskWatermark* disk)
    : db_(db), metrics_(metrics), disk_(disk) {}

boost::asio::awaitable<Response> OpsHandlers::healthz(Request&) {
  co_return json_response(200, {{"status", "ok"}});
}

boost::asio::awaitable<Response> OpsHandlers::readyz(Request&) {
  if (!db_.ready()) throw ApiError::unavailable(db_.not_ready_reason(), 1);
  // Reads are still served, but a load balancer should send writes elsewhere.
  if (disk_)
    if (auto low = disk_->shortage()) throw disk_not_ready(*low);
  // Storage failures (unreachable, overloaded) become 503 in the server's dispatch.
  co_await db_.pool().run([](pqxx::connection& c) { pqxx::nontransaction(c).exec("SELECT 1"); });
  co_return json_response(200, {{"status", "ready"}, {"schema_version", db_.schema_version()}});
}

boost::asio::awaitable<Response> OpsHandlers::version(Request&) {
  co_return json_response(200, {{"version", kVersion},
                                {"commit", kGitCommit},
                                {"build", std::string(kCompiler) + ", " + kBuildType},
                                {"schema_version", db_.schema_version()}});
}

boost::asio::awaitable<Response> OpsHandlers::metrics(Request&) {
  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = metrics_.render();
  co_return r;
}

boost::asio::awaitable<Response> OpsHandlers::routes(Request&) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& route : route_table())
    out.push_back({{"method", route.method},
                   {"path", route.pattern},
                   {"access", std::string(access_name(route.access))}});
  co_return json_response(200, {{"routes", out}});
}

}  // namespace metricsd::api
