// The two stored blocks (docs/storage-format.md): a sample block holds one series' samples
// of one window (times and values); a rollup block holds one series' aggregates of the
// buckets of one window (bucket start, n, sum, min, max, last, last time). Each starts
// with a version byte and its value count, then one column after another. Pure functions;
// the storage threads call them, never an io thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/byte_codec.hpp"
#include "core/compaction.hpp"

namespace metricsd {

// Written by this release; readers take every version up to these (docs/storage-format.md:
// 2 added runs of zero blocks to packed streams).
inline constexpr uint8_t kSampleBlockVersion = 2;
inline constexpr uint8_t kRollupBlockVersion = 2;
// The most values one block holds; more samples of a series and window take several.
inline constexpr size_t kMaxBlockValues = size_t{1} << 20;

// `ts_ms` and `values` have the same length; times in any order (compaction sorts them).
std::string encode_samples(const std::vector<int64_t>& ts_ms, const std::vector<double>& values);
// Appends the block's samples; CorruptBlock if it is not one encode_samples wrote.
void decode_samples(std::string_view block, std::vector<int64_t>& ts_ms,
                    std::vector<double>& values);

struct RollupBucket {
  int64_t bucket_ms = 0;
  Aggregate agg;
};
std::string encode_rollups(const std::vector<RollupBucket>& buckets);
void decode_rollups(std::string_view block, std::vector<RollupBucket>& out);

}  // namespace metricsd
