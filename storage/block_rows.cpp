// Block table rows; see block_rows.hpp.
#include "storage/block_rows.hpp"

#include <algorithm>

namespace metricsd::storage {
namespace {

// The block as its two columns (block_rows.hpp).
void add_block(CopyBinary& copy, const std::string& block) {
  size_t split = block.size() / kToastChunkBytes * kToastChunkBytes;
  copy.bytea(std::string_view(block).substr(0, split));
  copy.bytea(std::string_view(block).substr(split));
}

}  // namespace

void add_sample_block_rows(CopyBinary& copy, int64_t series, int64_t start_ms, int64_t end_ms,
                           const std::vector<int64_t>& ts_ms, const std::vector<double>& values) {
  std::vector<int64_t> ts;
  std::vector<double> vals;
  for (size_t from = 0; from < ts_ms.size(); from += kMaxBlockValues) {
    auto to = static_cast<ptrdiff_t>(std::min(ts_ms.size(), from + kMaxBlockValues));
    ts.assign(ts_ms.begin() + static_cast<ptrdiff_t>(from), ts_ms.begin() + to);
    vals.assign(values.begin() + static_cast<ptrdiff_t>(from), values.begin() + to);
    Aggregate agg;  // the block's last sample, kept beside it for latest values
    for (size_t i = 0; i < ts.size(); ++i)
      agg.add(ts[i], vals[i]);
    copy.row(8);
    copy.int8(series);
    copy.int8(start_ms);
    copy.int8(end_ms);
    copy.int8(agg.last_ts_ms);
    copy.float8(agg.last);
    copy.int4(static_cast<int32_t>(ts.size()));
    add_block(copy, encode_samples(ts, vals));
  }
}

void add_rollup_block_rows(CopyBinary& copy, int64_t series, int64_t bucket_ms,
                           const std::vector<RollupBucket>& buckets) {
  std::vector<RollupBucket> part;
  for (size_t from = 0; from < buckets.size(); from += kMaxBlockValues) {
    part.assign(
        buckets.begin() + static_cast<ptrdiff_t>(from),
        buckets.begin() + static_cast<ptrdiff_t>(std::min(buckets.size(), from + kMaxBlockValues)));
    copy.row(6);
    copy.int8(series);
    copy.int8(part.front().bucket_ms);
    copy.int8(part.back().bucket_ms + bucket_ms);
    copy.int4(static_cast<int32_t>(part.size()));
    add_block(copy, encode_rollups(part));
  }
}

}  // namespace metricsd::storage
