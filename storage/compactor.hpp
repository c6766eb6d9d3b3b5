// Compactor: moves inbox rows whose every sample lies in a closed chunk window into
// per-series chunk rows and merges them into the 1-minute and 1-hour rollups, deleting
// the inbox rows in the same transaction (so a sample is always in exactly one place).
// Also keeps daily partitions created ahead and drops partitions past each tier's
// retention. Runs on a storage thread; one daemon at a time (advisory lock).
#pragma once

#include <cstdint>
#include <pqxx/pqxx>
#include <vector>

#include "core/compaction.hpp"
#include "core/head.hpp"
#include "core/tier_cache.hpp"

#include "storage/pg_binary.hpp"

namespace metricsd::storage {

struct CompactionResult {
  bool ran = false;  // false when another daemon holds the compaction lock
  int64_t inbox_rows = 0;
  int64_t samples = 0;
  int64_t chunks = 0;
  bool more = false;  // the pass stopped at its sample bound; run again
};

// Rows younger than this are left for the next pass: the writer adds a committed row's
// samples to the head right after COMMIT, and compaction must not remove them from the
// head before they were added.
inline constexpr int kInboxSettleSeconds = 5;

// One pass over inbox rows whose samples all lie before closed_before_ms (window-aligned
// for normal passes; later when the head must shrink). Takes at most about max_samples
// samples (whole inbox rows, at least one). Uses its own libpq connection for binary
// transfers (no text formatting of numbers).
// The moved samples leave `head`, and the rollup days they merge into leave `cache`, in the
// same critical section as the COMMIT.
CompactionResult compact_inbox(PgConnection& pg, int64_t closed_before_ms, int64_t max_samples,
                               Head& head, TierCache& cache);

// The window boundary before which a normal pass compacts.
int64_t closed_before(int64_t now_ms, int64_t grace_ms);

struct Retention {
  int64_t raw_ms, rollup_1m_ms, rollup_1h_ms;
};

// Creates today's and tomorrow's partitions of every tier; drops those wholly older than
// the tier's retention. Returns the number of partitions dropped.
int maintain_partitions(pqxx::connection& c, int64_t now_ms, const Retention& retention);

// Advisory lock key of compaction and partition upkeep (distinct from migrations').
inline constexpr long long kCompactionLockKey = 0x6d65747269637364 + 1;

}  // namespace metricsd::storage
