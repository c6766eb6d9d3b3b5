// The stored tiers' part of a series deletion (storage/series_delete): the samples of
// some series in a time range leave the sample blocks (and the chunk rows of releases
// before blocks), and the rollup blocks (and rollup rows) lose the buckets the range
// covers or get them recomputed (core/deletion_range.hpp).
//
// Blocks wholly inside the range (and clear of the hours whose buckets it cuts) go without
// being read; the others it touches are decoded, filtered and encoded again: deleted and
// written back as new rows (same series and window) in the caller's transaction. Runs on a
// storage thread under the compaction lock (nothing else writes blocks meanwhile), for a
// few dozen series at a time: their cut blocks are held in memory.
#pragma once

#include <cstdint>
#include <vector>

#include "core/deletion_range.hpp"
#include "storage/pg_binary.hpp"

namespace metricsd::storage {

struct BlockDeletion {
  int64_t samples = 0;             // raw samples that go
  int64_t bytes = 0;               // block bytes that go (removed blocks, less what rewrites add)
  int64_t buckets_removed = 0;     // stored rollup buckets removed (a bucket kept in parts: each)
  int64_t buckets_recomputed = 0;  // cut buckets stored again with what is left
  void add(const BlockDeletion& o);
};

// `series`: sorted ids. With dry_run it only reads, and counts what would go.
BlockDeletion delete_from_blocks(PgConnection& pg, const std::vector<int64_t>& series,
                                 const DeletionRange& range, bool dry_run);

}  // namespace metricsd::storage
