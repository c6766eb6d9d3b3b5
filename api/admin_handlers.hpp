// The admin tools over stored series (admin only, since both reveal or destroy what every
// node sent): POST /api/v1/admin/series/delete removes the samples of a selector's series
// (in a time range, or the series themselves; a dry run by default) through the
// SeriesDeleter, audited as series.delete; GET /api/v1/admin/cardinality counts the
// registry's series by metric, node and label, and which metrics gained series lately.
//
// Both run off the io threads, on the storage pool. One deletion (or dry run) at a time:
// another request meanwhile gets 409. Threads: any io thread; deleting_ is atomic.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>

#include "api/http_types.hpp"
#include "core/commit_gate.hpp"
#include "core/head.hpp"
#include "core/prom.hpp"
#include "core/tier_cache.hpp"
#include "storage/database.hpp"
#include "storage/series_delete.hpp"
#include "storage/series_registry.hpp"

namespace metricsd::api {

// Series one deletion may take unless the request raises max_series, and the most it may.
inline constexpr int64_t kDefaultDeleteSeries = 1000;
inline constexpr int64_t kMaxDeleteSeries = 100'000;
inline constexpr int64_t kDefaultCardinalityLimit = 20;
inline constexpr int64_t kMaxCardinalityLimit = 1000;

class AdminHandlers {
 public:
  AdminHandlers(storage::Database& db, storage::SeriesRegistry& registry, Head& head,
                TierCache& cache, CommitGate& gate, prom::Registry& metrics);

  boost::asio::awaitable<Response> delete_series(Request& req);
  boost::asio::awaitable<Response> cardinality(Request& req);

 private:
  storage::Database& db_;
  storage::SeriesRegistry& registry_;
  storage::SeriesDeleter deleter_;  // used by one request at a time (deleting_)
  std::atomic<bool> deleting_{false};
  prom::Family<prom::Counter>& deletions_;
  prom::Counter& deleted_samples_;
};

}  // namespace metricsd::api
