// Operational endpoints: /healthz, /readyz, /metrics, /api/v1/version and
// /api/v1/routes (the route table, with each route's access).
#pragma once

#include <boost/asio/awaitable.hpp>

#include "api/http_types.hpp"
#include "core/disk_watermark.hpp"
#include "core/prom.hpp"
#include "storage/database.hpp"

namespace metricsd::api {

class OpsHandlers {
 public:
  // `disk` (may be null): /readyz answers 503 while it refuses writes.
  OpsHandlers(storage::Database& db, prom::Registry& metrics, const DiskWatermark* disk = nullptr);

  boost::asio::awaitable<Response> healthz(Request& req);
  boost::asio::awaitable<Response> readyz(Request& req);
  boost::asio::awaitable<Response> version(Request& req);
  boost::asio::awaitable<Response> metrics(Request& req);
  boost::asio::awaitable<Response> routes(Request& req);

 private:
  storage::Database& db_;
  prom::Registry& metrics_;
  const DiskWatermark* disk_;
};

}  // namespace metricsd::api
