// Block merging: compaction writes one sample block per series and 10-minute window and one
// rollup block per series and pass; once a day is closed (every window of it compacted),
// this rewrites each series' blocks of that day as one block per table (more only past
// kMaxBlockValues). A stored sample then costs about a byte instead of a block row's
// overhead spread over 60 samples (docs/storage-format.md). Values do not change: samples
// keep their order, a rollup bucket found in several blocks is merged (Aggregate::merge).
// Once no closed day has blocks left to merge, each day partition that was merged is
// rewritten once (VACUUM FULL), so the merged-away blocks' space leaves the files.
// Runs on a storage thread, under the compaction lock (so no compaction adds a block to
// the day while it is rewritten); each pass is one transaction and bounded in samples.
#pragma once

#include <cstdint>
#include <string>

#include "storage/pg_binary.hpp"

namespace metricsd::storage {

struct MergeResult {
  bool ran = false;       // false when another daemon holds the compaction lock
  int64_t series = 0;     // series whose day was rewritten
  int64_t blocks_in = 0;  // blocks they had; each has about one now
  std::string packed;     // the partition rewritten by this pass, if any
  bool more = false;      // stopped at its bound; run again
};

// Merges the blocks of days that ended at or before closed_before_ms, oldest day first,
// about max_samples samples per pass (at least one series).
MergeResult merge_closed_days(PgConnection& pg, int64_t closed_before_ms, int64_t max_samples);

}  // namespace metricsd::storage
