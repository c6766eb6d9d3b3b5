// The fleet read endpoints: GET /api/v1/nodes (every node, filtered by status, type and
// labels), GET /api/v1/nodes/{node_id} (one node with its info) and GET /api/v1/summary
// (node counts, series count, ingest rate, per-category sums of the latest values).
// Node rows come from PostgreSQL on the storage pool; latest values from the head, the
// series behind them from the series registry.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "api/http_types.hpp"
#include "core/head.hpp"
#include "core/prom.hpp"
#include "core/rate_window.hpp"
#include "storage/database.hpp"
#include "storage/series_registry.hpp"

namespace metricsd::api {

class NodesHandlers {
 public:
  // ingest_rate: committed samples, fed by the group commit writer's hook with
  // RateWindow::now_s() as the time.
  NodesHandlers(storage::Database& db, storage::SeriesRegistry& registry, const Head& head,
                const RateWindow& ingest_rate, prom::Registry& metrics);

  boost::asio::awaitable<Response> list(Request& req);
  boost::asio::awaitable<Response> get(Request& req);
  boost::asio::awaitable<Response> summary(Request& req);

 private:
  storage::Database& db_;
  const storage::SeriesRegistry& registry_;
  const Head& head_;
  const RateWindow& ingest_rate_;
  prom::Counter& series_read_;
};

}  // namespace metricsd::api
