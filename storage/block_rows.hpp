// Rows of the block tables (migrations/0004) as binary COPY payload, shared by compaction
// (storage/compactor) and block merging (storage/block_merge): a series' samples or rollup
// buckets become one row per block of at most kMaxBlockValues values. Runs on the storage
// thread that encodes; pure apart from the payload it appends to.
#pragma once

#include <cstdint>
#include <vector>

#include "core/block_format.hpp"
#include "storage/pg_binary.hpp"

namespace metricsd::storage {

inline constexpr const char* kCopySampleBlocks =
    "COPY sample_blocks (series_id, start_ms, end_ms, last_ts_ms, last, n, data, tail) "
    "FROM STDIN (FORMAT binary)";
// {} is rollup_1m_blocks or rollup_1h_blocks.
inline constexpr const char* kCopyRollupBlocks =
    "COPY {} (series_id, start_ms, end_ms, n, data, tail) FROM STDIN (FORMAT binary)";

// The data of one TOAST chunk on PostgreSQL's default 8 kB pages (TOAST_MAX_CHUNK_SIZE). A
// block is stored as `data`, its first bytes up to a multiple of this, out of line, and
// `tail`, the rest, in the row (migrations/0005): TOAST then holds only whole chunks.
// Readers select `data || tail`. On a server built with other pages the split still reads
// back; it only packs less well.
inline constexpr size_t kToastChunkBytes = 1996;

// The series' samples of the window [start_ms, end_ms), in time order.
void add_sample_block_rows(CopyBinary& copy, int64_t series, int64_t start_ms, int64_t end_ms,
                           const std::vector<int64_t>& ts_ms, const std::vector<double>& values);

// The series' buckets of width bucket_ms, in bucket order; a row spans its first bucket's
// start to its last bucket's end.
void add_rollup_block_rows(CopyBinary& copy, int64_t series, int64_t bucket_ms,
                           const std::vector<RollupBucket>& buckets);

}  // namespace metricsd::storage
