// Write endpoints: POST /api/v1/metrics (JSON), POST /api/v1/write and /write (line
// protocol), POST /api/v1/prom/write (Prometheus remote write), POST
// /api/v1/nodes/{node_id}/heartbeat. Thin: each request is decoded and
// validated whole (api/ingest_decode, api/line_protocol, api/heartbeat_decode; remote
// write leaves out what it cannot store instead, api/prom_remote_write), checked
// by the Authorizer (node binding, sample budget), and stored by the IngestService;
// the answer goes out once the samples are committed.
//
// Threads: io threads, any number at once. The line cache is per io thread.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <string_view>

#include "api/authorizer.hpp"
#include "api/http_types.hpp"
#include "api/ingest_decode.hpp"
#include "core/live_settings.hpp"
#include "core/prom.hpp"
#include "core/sample_batch.hpp"
#include "core/settings.hpp"
#include "ingest/ingest_service.hpp"
#include "storage/series_registry.hpp"

namespace metricsd::api {

class IngestHandlers {
 public:
  IngestHandlers(const Settings& settings, const LiveSettings& live,
                 storage::SeriesRegistry& registry, ingest::IngestService& service,
                 Authorizer& auth, prom::Registry& metrics);

  boost::asio::awaitable<Response> write_json(Request& req);
  boost::asio::awaitable<Response> write_line_protocol(Request& req);
  boost::asio::awaitable<Response> heartbeat(Request& req);
  // POST /api/v1/prom/write: Prometheus remote write (api/prom_write_handler.cpp).
  boost::asio::awaitable<Response> write_prometheus(Request& req);

 private:
  // Node binding and the sample budget for what the batch writes; throws 403/429.
  void authorize_samples(const Request& req, const SampleBatch& batch);
  // The body, inflated if gzip; throws ApiError 400/413/415.
  std::string_view body_of(Request& req, std::string& inflated) const;
  // Counts the request as refused for bad input and returns the 400 to throw.
  ApiError invalid(const Problems& problems, size_t samples);

  const Settings& settings_;
  const LiveSettings& live_;  // retention.raw bounds the sample times
  storage::SeriesRegistry& registry_;
  ingest::IngestService& service_;
  Authorizer& auth_;
  prom::Counter& string_fields_skipped_;
  prom::Family<prom::Counter>& line_cache_lines_;
  prom::Counter& line_cache_resets_;
  prom::Family<prom::Counter>& prom_skipped_;       // remote-write samples left out, by reason
  std::atomic<int64_t> prom_refusal_logged_ms_{0};  // the last log line about them
};

}  // namespace metricsd::api
