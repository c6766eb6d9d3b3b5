// The ingest service; see ingest_service.hpp.
#include "ingest/ingest_service.hpp"

#include <algorithm>
#include <span>

namespace metricsd::ingest {

IngestService::IngestService(storage::Database& db, storage::SeriesRegistry& registry,
                             storage::GroupCommitWriter& writer, const CommitFanout& fanout,
                             CommitGate& gate, prom::Registry& metrics)
    : db_(db),
      registry_(registry),
      writer_(writer),
      fanout_(fanout),
      gate_(gate),
      accepted_(metrics.counter("metricsd_ingest_samples_total",
                                "Samples acknowledged (committed), by format", {"format"})),
      rejected_requests_(metrics.counter("metricsd_ingest_rejected_requests_total",
                                         "Write requests refused, by reason", {"reason"})),
      rejected_samples_(metrics.counter("metricsd_ingest_rejected_samples_total",
                                        "Samples in refused write requests, by reason",
                                        {"reason"})),
      heartbeats_(metrics.counter("metricsd_heartbeats_total", "Heartbeats accepted").get()),
      events_stored_(metrics.counter("metricsd_node_events_total",
                                     "Events nodes reported in heartbeats and stored, by type "
                                     "(the first 32 types seen since start; later ones as "
                                     "_other)",
                                     {"type"})),
      events_skipped_(metrics
                          .counter("metricsd_node_events_skipped_total",
                                   "Events nodes reported that were not stored because the same "
                                   "event was already (a retried heartbeat)")
                          .get()) {}

prom::Counter& IngestService::events_of(const std::string& type) {
  std::lock_guard lock(event_types_mu_);
  if (std::find(event_types_.begin(), event_types_.end(), type) == event_types_.end()) {
    // "_other" is no valid event type, so it cannot be mistaken for one.
    if (event_types_.size() >= kCountedEventTypes) return events_stored_.with({"_other"});
    event_types_.push_back(type);
  }
  return events_stored_.with({type});
}

void IngestService::count_rejected(const char* reason, size_t samples) {
  rejected_requests_.with({reason}).inc();
  rejected_samples_.with({reason}).inc(static_cast<double>(samples));
}

// Every refusal of a decoded request, once: the database not ready, overloaded or lost,
// or anything unexpected (a series limit is counted where it is found).
void IngestService::count_refusal(size_t samples) {
  try {
    throw;
  } catch (const storage::Overloaded&) {
    count_rejected("overloaded", samples);
  } catch (const storage::Unavailable&) {
    count_rejected("unavailable", samples);
  } catch (const storage::SeriesLimitExceeded&) {
  } catch (...) {
    count_rejected("error", samples);
  }
}

std::vector<std::string> IngestService::nodes_of(const SampleBatch& batch) const {
  std::vector<std::string> out;
  auto add = [&out](const std::string& node) {
    if (std::find(out.begin(), out.end(), node) == out.end()) out.push_back(node);
  };
  for (const auto& key : batch.series)
    add(key.node);
  int64_t last = 0;
  for (int64_t id : batch.series_ids) {
    if (id == 0 || id == last) continue;
    last = id;
    if (auto key = registry_.key(id)) add(key->node);
  }
  return out;
}

boost::asio::awaitable<SampleRows> IngestService::resolve(SampleBatch batch) {
  // Series the decoder did not find in the registry: look again (another request may have
  // created them meanwhile), then create the rest on a storage thread.
  std::vector<int64_t> new_ids;
  if (!batch.series.empty()) {
    auto missing = registry_.lookup(batch, new_ids);
    if (!missing.empty()) {
      try {
        co_await db_.pool().run(
            [&](pqxx::connection& c) { registry_.create(c, batch.series, missing, new_ids); });
      } catch (const storage::SeriesLimitExceeded&) {
        count_rejected("series_limit", batch.size());
        throw;
      }
    }
  }
  SampleRows rows;
  rows.series_ids = std::move(batch.series_ids);
  for (size_t i = 0; i < rows.series_ids.size(); ++i)
    if (batch.series_index[i] != SampleBatch::kResolved)
      rows.series_ids[i] = new_ids[batch.series_index[i]];
  rows.ts_ms = std::move(batch.ts_ms);
  rows.values = std::move(batch.values);
  co_return rows;
}

boost::asio::awaitable<void> IngestService::write(SampleBatch batch, const char* format) {
  const size_t n = batch.size();
  if (n == 0) co_return;
  try {
    if (!db_.ready()) throw storage::Unavailable(db_.not_ready_reason());
    SampleRows rows = co_await resolve(std::move(batch));
    co_await writer_.write(std::move(rows));
  } catch (...) {
    count_refusal(n);
    throw;
  }
  accepted_.with({format}).inc(static_cast<double>(n));
}

boost::asio::awaitable<storage::HeartbeatCommit> IngestService::heartbeat(
    storage::HeartbeatUpdate update, SampleBatch samples, int64_t now_ms) {
  const size_t n = samples.size();
  SampleRows rows;
  storage::HeartbeatCommit done;
  try {
    if (!db_.ready()) throw storage::Unavailable(db_.not_ready_reason());
    rows = co_await resolve(std::move(samples));
    done = co_await db_.pool().run([&](pqxx::connection& c) {
      // As the writer does: held until the samples are in the head, and samples of series
      // deleted since they were resolved are left out (core/commit_gate.hpp).
      auto gate = gate_.commit();
      gate_.drop_buried(rows);
      auto committed = storage::commit_heartbeat(c, update, rows);
      // Committed: into the head and the stream before the agent hears back, as the
      // writer does for its groups.
      if (rows.size() > 0) {
        const SampleRows* part = &rows;
        fanout_.publish(CommittedBatch{std::span<const SampleRows* const>(&part, 1)});
      }
      return committed;
    });
  } catch (...) {
    count_refusal(n);
    throw;
  }
  if (n) accepted_.with({"heartbeat"}).inc(static_cast<double>(n));
  heartbeats_.inc();
  if (done.previous_status != "online") {
    std::string from = done.previous_status.empty() ? "new" : done.previous_status;
    fanout_.publish(NodeStatusChange{update.node_id, from, "online", now_ms,
                                     from == "new" ? "node_registered" : "node_status"});
  }
  // After the status change, as they were stored after its event.
  for (const auto& e : done.stored_events) {
    events_of(e.type).inc();
    fanout_.publish(e);
  }
  if (done.stored_events.size() < update.events.size())
    events_skipped_.inc(static_cast<double>(update.events.size() - done.stored_events.size()));
  co_return done;
}

}  // namespace metricsd::ingest
