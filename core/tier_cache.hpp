// TierCache: decoded rows of the rollup tiers, held by (tier, series, UTC day), so that a
// query whose days are all held reads no database. Bounded by bytes; the least recently
// used days go first. It stays exact by invalidation, not by expiry: a compaction drops
// the days it merges rollups into while it holds the head's tiers lock exclusively (see
// Head::tiers_mutex), and retention drops whole days. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/compaction.hpp"
#include "core/query_plan.hpp"

namespace metricsd {

class TierCache {
 public:
  // One series' rows of one day, sorted by bucket; shared, so readers hold no lock.
  using Day = std::shared_ptr<const std::vector<StoredBucket>>;

  // max_bytes 0: holds nothing (every lookup misses).
  explicit TierCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  bool enabled() const { return max_bytes_ > 0; }
  // The day starting at day_ms (a multiple of kDayMs), or null.
  Day find(Tier tier, int64_t series, int64_t day_ms);
  // Holds the day's rows (sorted, all inside the day); evicts to stay within the bound.
  void put(Tier tier, int64_t series, int64_t day_ms, Day rows);
  // Forgets these (series, day) pairs of the tier.
  void invalidate(Tier tier, const std::vector<std::pair<int64_t, int64_t>>& series_days);
  // Forgets everything (the database may have changed while it was away).
  void clear();
  // Forgets the tier's days that end at or before end_ms (retention dropped them).
  void drop_ending_by(Tier tier, int64_t end_ms);
  // Forgets every tier's days of these series (sorted ids) that overlap [from_ms, to_ms)
  // (a series deletion); walks every held day.
  void invalidate_series(const std::vector<int64_t>& sorted_ids, int64_t from_ms, int64_t to_ms);

  size_t bytes() const;
  size_t days() const;
  uint64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }
  // What a day of so many rows is charged.
  static size_t cost(size_t rows) { return 128 + rows * sizeof(StoredBucket); }

 private:
  struct Key {
    int tier;
    int64_t series, day;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  struct Entry {
    Day rows;
    size_t bytes;
    std::list<Key>::iterator lru;  // position in lru_ (front: most recent)
  };
  using Map = std::unordered_map<Key, Entry, KeyHash>;
  void erase(Map::iterator it);

  const size_t max_bytes_;
  mutable std::mutex mu_;  // guards map_, lru_, bytes_
  Map map_;
  std::list<Key> lru_;
  size_t bytes_ = 0;
  std::atomic<uint64_t> evictions_{0};
};

}  // namespace metricsd
