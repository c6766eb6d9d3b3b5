// Read endpoints over the stored tiers and the in-memory head: /api/v1/query (bucketed
// history, JSON or CSV), /api/v1/latest, /api/v1/series, and the older dashboards'
// /api/v1/metrics/{category} and /api/v1/metrics/history/{category}/{timeframe}.
// Database reads run on the storage pool; results are exact whichever tier answers.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>

#include "api/http_types.hpp"
#include "core/head.hpp"
#include "core/prom.hpp"
#include "core/query_plan.hpp"
#include "core/series_filter.hpp"
#include "core/tier_cache.hpp"
#include "query/query_reader.hpp"
#include "storage/database.hpp"
#include "storage/series_registry.hpp"

namespace metricsd::api {

inline constexpr size_t kMaxQuerySeries = 500;
inline constexpr int64_t kMaxQueryPoints = 11'000;  // buckets per series in a JSON answer
// A CSV answer is streamed, so it may hold more: a 30-day export at 10 s is 259 200.
inline constexpr int64_t kMaxCsvPoints = 1'000'000;
// The CSV export reads each series in blocks of this many whole buckets.
inline constexpr int64_t kCsvBlockBuckets = 10'000;
inline constexpr size_t kMaxLatestSeries = 20'000;

class QueryHandlers {
 public:
  QueryHandlers(storage::Database& db, storage::SeriesRegistry& registry, const Head& head,
                TierCache& cache, int64_t timeout_ms, prom::Registry& metrics);

  boost::asio::awaitable<Response> query(Request& req);
  boost::asio::awaitable<Response> latest(Request& req);
  boost::asio::awaitable<Response> series(Request& req);
  boost::asio::awaitable<Response> category_latest(Request& req);
  boost::asio::awaitable<Response> category_history(Request& req);

 private:
  using Range = QueryRange;
  using Selected = std::vector<std::pair<int64_t, SeriesKey>>;
  // Buckets every selected series over the range: points per series, in order. A bulk
  // read (an export) uses cached rollup days but does not add to them.
  boost::asio::awaitable<std::vector<std::vector<std::pair<int64_t, double>>>> run(
      const Selected& series, const Range& range, bool bulk = false);
  Selected select(const SeriesFilter& f, size_t limit, const char* narrow_hint) const;

  // The streamed CSV export (query_csv.cpp): one series at a time, each in blocks of
  // kCsvBlockBuckets buckets, one run() per block.
  struct CsvCursor;
  // Reads the first block before answering, so a failure is still a JSON error.
  boost::asio::awaitable<Response> csv_response(Selected series, const Range& range);
  boost::asio::awaitable<bool> next_csv_piece(std::shared_ptr<CsvCursor> c, std::string& out);
  boost::asio::awaitable<void> read_csv_block(CsvCursor& c);
  // The JSON array of the series' latest values (series without one are left out).
  std::string latest_of(const Selected& series) const;

  storage::SeriesRegistry& registry_;
  const Head& head_;
  query::QueryReader reader_;
};

}  // namespace metricsd::api
