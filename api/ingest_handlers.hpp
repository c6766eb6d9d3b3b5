// Write endpoints: POST /api/v1/metrics (JSON), POST /api/v1/write and /write (line
// protocol), POST /api/v1/nodes/{node_id}/heartbeat. Each request is decoded and
// validated whole, its series resolved, and its samples committed through the group
// commit writer before the answer goes out.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <string_view>

#include "api/http_types.hpp"
#include "api/ingest_decode.hpp"
#include "core/live_settings.hpp"
#include "core/prom.hpp"
#include "core/sample_batch.hpp"
#include "core/settings.hpp"
#include "storage/database.hpp"
#include "storage/group_commit_writer.hpp"
#include "storage/series_registry.hpp"

namespace metricsd::api {

class IngestHandlers {
 public:
  IngestHandlers(const Settings& settings, const LiveSettings& live, storage::Database& db,
                 storage::SeriesRegistry& registry, storage::GroupCommitWriter& writer,
                 prom::Registry& metrics);

  boost::asio::awaitable<Response> write_json(Request& req);
  boost::asio::awaitable<Response> write_line_protocol(Request& req);
  boost::asio::awaitable<Response> heartbeat(Request& req);

  // Called (on an io thread) when a heartbeat brings a node online: `from` is its status
  // before, or "new" for a node seen for the first time. The stream hub's hook.
  using NodeOnlineHook =
      std::function<void(const std::string& node, std::string_view from, int64_t last_seen_ms)>;
  void on_node_online(NodeOnlineHook hook) { node_online_ = std::move(hook); }
  // Called with each request's sample count before it is stored; throws ApiError (429)
  // to refuse it. Set before the server starts.
  void set_sample_admission(std::function<void(const Request&, size_t)> admit) {
    admit_samples_ = std::move(admit);
  }

 private:
  // Resolves series (creating new ones) and commits the samples.
  boost::asio::awaitable<void> store(const Request& req, SampleBatch batch, const char* format);
  // An agent token bound to a node may write that node's samples only (403 otherwise).
  void check_node_binding(const Request& req, const SampleBatch& batch) const;
  // The body, inflated if gzip; throws ApiError 400/413/415.
  std::string_view body_of(Request& req, std::string& inflated) const;
  void reject(const char* reason, const Problems& problems, size_t samples);

  const Settings& settings_;
  const LiveSettings& live_;  // retention.raw bounds the sample times
  storage::Database& db_;
  storage::SeriesRegistry& registry_;
  storage::GroupCommitWriter& writer_;
  prom::Family<prom::Counter>& accepted_;
  prom::Family<prom::Counter>& rejected_requests_;
  prom::Family<prom::Counter>& rejected_samples_;
  prom::Counter& string_fields_skipped_;
  prom::Family<prom::Counter>& line_cache_lines_;
  prom::Counter& line_cache_resets_;
  prom::Counter& heartbeats_;
  NodeOnlineHook node_online_;  // set before the server starts
  std::function<void(const Request&, size_t)> admit_samples_;
};

}  // namespace metricsd::api
