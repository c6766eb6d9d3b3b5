// SeriesRegistry: (metric, node, labels) -> series_id, all of it cached in memory
// (loaded at start, bounded by limits.max_series), with the cardinality limits. Lookups
// take a shared lock; creating series runs on a storage thread and takes the exclusive
// lock only to publish the new ids.
#pragma once

#include <atomic>
#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <pqxx/pqxx>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/cardinality.hpp"
#include "core/prom.hpp"
#include "core/sample_batch.hpp"
#include "core/series_filter.hpp"

namespace metricsd::storage {

// A request would go beyond limits.max_series or limits.max_series_per_node.
class SeriesLimitExceeded : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class SeriesRegistry {
 public:
  SeriesRegistry(int64_t max_series, int64_t max_series_per_node, prom::Registry& metrics);

  // Replaces the cache with every series in the database (start-up).
  void load(pqxx::connection& c);

  // ids[i] = the id of the batch's series i, or 0 when unknown; returns the indexes of
  // unknown ones.
  std::vector<uint32_t> lookup(const SampleBatch& batch, std::vector<int64_t>& ids) const;

  // Storage thread: creates the series at `missing` (and their nodes), filling ids.
  // Throws SeriesLimitExceeded (nothing created) when a limit would be passed.
  void create(pqxx::connection& c, const std::vector<SeriesKey>& series,
              const std::vector<uint32_t>& missing, std::vector<int64_t>& ids);

  size_t size() const;
  // Changes whenever the cache is replaced (load), and differs between registries: what
  // was resolved under one generation holds until the next. Read under a Reader's lock
  // for a value that stays put while it is held.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // Series matching the filter with id > after_id, in id order, at most `limit`.
  std::vector<std::pair<int64_t, SeriesKey>> select(const SeriesFilter& filter, int64_t after_id,
                                                    size_t limit) const;
  // Forgets deleted series (their rows are gone: storage/series_delete) and starts a new
  // generation, so that caches of resolved ids (api/line_series_cache) empty themselves.
  void remove(const std::vector<int64_t>& ids);
  // Series counts by metric, node and label, and the metrics' series created in the last
  // hour and day, `limit` of each (core/cardinality.hpp). Walks every series under the
  // shared lock: lookups go on meanwhile, series creation waits.
  CardinalityReport cardinality(int64_t now_ms, size_t limit) const;
  // The key of a series id, if known.
  std::optional<SeriesKey> key(int64_t id) const;

  // A resolver over the cache holding its shared lock: for one synchronous decode, never
  // across a suspension point.
  class Reader : public SeriesResolver {
   public:
    explicit Reader(const SeriesRegistry& r) : r_(r), lock_(r.mu_) {}
    int64_t find(const std::string& identity) const override {
      auto it = r_.ids_.find(identity);
      return it == r_.ids_.end() ? 0 : it->second;
    }

   private:
    const SeriesRegistry& r_;
    std::shared_lock<std::shared_mutex> lock_;
  };
  Reader reader() const { return Reader(*this); }

 private:
  const int64_t max_series_, max_per_node_;
  prom::Counter& created_;

  std::atomic<uint64_t> generation_;
  mutable std::shared_mutex mu_;  // guards ids_, keys_, the by_ indexes, per_node_, recent_
  boost::unordered_flat_map<std::string, int64_t> ids_;  // series_identity -> id
  std::map<int64_t, SeriesKey> keys_;                    // id -> key, ordered for paging
  // Sorted ids by metric, by node and by category, so a read (or a stream snapshot)
  // naming one does not walk every series.
  std::unordered_map<std::string, std::vector<int64_t>> by_metric_, by_node_, by_category_;

  void index(int64_t id, const SeriesKey& key);        // caller holds mu_ exclusively
  void unindex(int64_t id, const SeriesKey& key);      // caller holds mu_ exclusively
  std::unordered_map<std::string, int64_t> per_node_;  // node -> series count
  // (created at, id) of the series created in the last day, oldest first, for the
  // cardinality's growth; pruned as series are created. Ids deleted since stay until
  // pruned (cardinality() skips them).
  std::deque<std::pair<int64_t, int64_t>> recent_;
  void note_created(int64_t created_ms, int64_t id, int64_t now_ms);  // caller holds mu_ excl.
};

}  // namespace metricsd::storage
