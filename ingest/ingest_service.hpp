// IngestService: stores decoded writes durably. A write's series are resolved through the
// SeriesRegistry (new ones created on a storage thread), its samples handed to the
// GroupCommitWriter, and the caller resumes once they are committed and in the
// CommitFanout's consumers (head, stream). A heartbeat is one unit: its samples, its node
// record and its events commit in one transaction, then go to the fan-out.
//
// The path of a line-protocol write, socket to COMMIT and back:
//   io thread:      HttpSession reads the request → router → IngestHandlers (decode,
//                   Authorizer: node binding, sample budget) → IngestService::write
//   storage thread: SeriesRegistry::create for series never seen (StoragePool::run,
//                   resumes on the io thread)
//   writer thread:  GroupCommitWriter groups queued requests → COPY → COMMIT →
//                   CommitFanout::publish (head, rate, stream hub queue) → completes each
//                   request by posting to its io executor
//   io thread:      the handler answers 204.
//
// Threads: every member may be called from any io thread concurrently; the service holds
// no state of its own beyond counters (atomic) and the event types it counts by name
// (guarded by event_types_mu_). Failures it throws: SeriesLimitExceeded
// (storage/series_registry.hpp), storage::Overloaded (the writer's queue or the pool's is
// full), storage::Unavailable (no database); the api layer maps them (api/errors.hpp).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/commit_fanout.hpp"
#include "core/commit_gate.hpp"
#include "core/prom.hpp"
#include "core/sample_batch.hpp"
#include "storage/database.hpp"
#include "storage/group_commit_writer.hpp"
#include "storage/node_store.hpp"
#include "storage/series_registry.hpp"

namespace metricsd::ingest {

class IngestService {
 public:
  IngestService(storage::Database& db, storage::SeriesRegistry& registry,
                storage::GroupCommitWriter& writer, const CommitFanout& fanout, CommitGate& gate,
                prom::Registry& metrics);

  // The distinct nodes whose samples the batch holds (for node-bound tokens).
  std::vector<std::string> nodes_of(const SampleBatch& batch) const;

  // Commits the batch's samples; returns once they are durable. `format` labels the
  // accepted-samples counter (json, line_protocol).
  boost::asio::awaitable<void> write(SampleBatch batch, const char* format);

  // The heartbeat of `update.node_id` with its samples and events, in one transaction;
  // then its samples, (if it came online) its status change and the events it stored go to
  // the fan-out.
  boost::asio::awaitable<storage::HeartbeatCommit> heartbeat(storage::HeartbeatUpdate update,
                                                             SampleBatch samples, int64_t now_ms);

  // A write refused before it reached the service (bad input, budget), by reason.
  void count_rejected(const char* reason, size_t samples);

 private:
  // In a catch block: counts the write as refused when storage refused it (its queue or
  // the pool's was full, or no database).
  void count_refusal(size_t samples);
  // The batch's samples by series id, creating series the registry lacks.
  boost::asio::awaitable<SampleRows> resolve(SampleBatch batch);
  // The stored-events counter of `type`: its own for the first kCountedEventTypes types
  // seen, "_other" for the rest.
  prom::Counter& events_of(const std::string& type);

  storage::Database& db_;
  storage::SeriesRegistry& registry_;
  storage::GroupCommitWriter& writer_;
  const CommitFanout& fanout_;
  CommitGate& gate_;  // a heartbeat holds it from its inbox row to the fan-out
  prom::Family<prom::Counter>& accepted_;
  prom::Family<prom::Counter>& rejected_requests_;
  prom::Family<prom::Counter>& rejected_samples_;
  prom::Counter& heartbeats_;
  // Event types are whatever nodes send, so only the first few get a series of their own:
  // /metrics stays bounded (a node sending a new type per heartbeat adds nothing), while a
  // fleet's handful of real types (gpu_xid, ...) are each counted.
  static constexpr size_t kCountedEventTypes = 32;
  prom::Family<prom::Counter>& events_stored_;
  prom::Counter& events_skipped_;
  std::mutex event_types_mu_;             // guards event_types_
  std::vector<std::string> event_types_;  // those with their own series, at most kCounted...
};

}  // namespace metricsd::ingest
