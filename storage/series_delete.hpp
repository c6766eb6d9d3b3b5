// SeriesDeleter: removes the samples of chosen series, in a time range or all of them,
// from every place they live (POST /api/v1/admin/series/delete): the inbox, the sample and
// rollup blocks (storage/block_delete), the head and its latest values, the rollup-day cache
// and, without a time range, the series rows and the registry. One transaction; a dry run
// reads the same rows and counts.
//
// Ordering against the other writers (why it is safe):
//   - compaction, block merging and partition upkeep (any daemon) take the compaction
//     advisory lock, which the deletion holds for its whole transaction: they wait for it
//     (or skip a pass), and it waits for a pass in progress. No sample moves between the
//     inbox and the blocks meanwhile.
//   - ingest: the inbox rows committed before its first pass are rewritten then; those
//     committed later are rewritten under the CommitGate held exclusively
//     (core/commit_gate.hpp), which no commit holds between its inbox row and the head.
//     Under that gate it commits and removes the samples from the head; so every commit is
//     wholly before the deletion (its samples go from inbox and head alike) or after it.
//     Without a time range, the deleted ids are then buried in the gate and dropped from the
//     registry: a write that resolved them earlier stores nothing for them, and a later
//     write of the same series creates it anew, with a new id.
//   - queries hold the head's tiers lock shared across their reads; the commit, the head's
//     erasure and the cache's invalidation happen under it exclusively, as a compaction's
//     commit does, so a query sees the data wholly before or wholly after.
// Other daemons on the same database learn nothing of it: their heads, caches and
// registries keep what they hold until they restart.
//
// Threads: run() on a storage thread, one deletion at a time (the caller ensures it: the
// connection is the deleter's own).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/commit_gate.hpp"
#include "core/deletion_range.hpp"
#include "core/head.hpp"
#include "core/tier_cache.hpp"
#include "storage/pg_binary.hpp"
#include "storage/series_registry.hpp"
#include "storage/token_store.hpp"

namespace metricsd::storage {

struct SeriesDeletion {
  std::vector<int64_t> series;  // sorted ids
  DeletionRange range;          // whole(): every sample, and the series rows
  bool dry_run = true;
  AuditEntry audit;  // recorded with the counts in the same transaction (not for a dry run)
};

struct DeletionCounts {
  int64_t series = 0;          // series selected
  int64_t series_removed = 0;  // their rows removed (whole deletions)
  int64_t samples = 0;         // raw samples: in blocks, chunks and the inbox (the head's are
                               // the inbox's)
  int64_t bytes = 0;           // block bytes freed, plus 24 for each sample in the inbox
  int64_t buckets_removed = 0, buckets_recomputed = 0;
};

class SeriesDeleter {
 public:
  SeriesDeleter(std::string conninfo, Head& head, TierCache& cache, CommitGate& gate,
                SeriesRegistry& registry)
      : pg_(std::move(conninfo)), head_(head), cache_(cache), gate_(gate), registry_(registry) {}

  // On a storage thread; never two at once. Throws Unavailable when the database is away.
  DeletionCounts run(const SeriesDeletion& d);

 private:
  DeletionCounts count(const SeriesDeletion& d);
  DeletionCounts remove(const SeriesDeletion& d);
  // The newest sample left in storage of each series (after the rewrite, in the same
  // transaction), for latest values the range took.
  std::vector<std::optional<Head::Point>> stored_latest(const std::vector<int64_t>& series);

  PgConnection pg_;
  Head& head_;
  TierCache& cache_;
  CommitGate& gate_;
  SeriesRegistry& registry_;
};

}  // namespace metricsd::storage
