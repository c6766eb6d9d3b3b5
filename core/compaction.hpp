// Compaction arithmetic: samples (from inbox rows) grouped into per-series chunks of a
// fixed time window, plus per-series 1-minute and 1-hour rollups. Pure logic; the SQL
// that reads the inbox and writes the results lives in storage/compactor.
#pragma once

#include <cstdint>
#include <vector>

namespace metricsd {

inline constexpr int64_t kChunkWindowMs = 10 * 60 * 1000;
inline constexpr int64_t kMinuteMs = 60 * 1000;
inline constexpr int64_t kHourMs = 60 * kMinuteMs;
inline constexpr int64_t kDayMs = 24 * kHourMs;
// The longest window a stored block covers: blocks never cross a day (their partition's).
inline constexpr int64_t kMaxBlockWindowMs = kDayMs;

// floor(t / step) * step, also for negative t.
int64_t floor_to(int64_t t, int64_t step);

struct Aggregate {
  int64_t n = 0;
  double sum = 0, min = 0, max = 0, last = 0;
  int64_t last_ts_ms = 0;
  void add(int64_t ts_ms, double v);
  void merge(const Aggregate& other);  // `last` is the one with the later timestamp
};

struct ChunkRow {
  int64_t series_id = 0;
  int64_t start_ms = 0, end_ms = 0;  // the window [start, end)
  std::vector<int64_t> ts_ms;        // sorted
  std::vector<double> values;
  Aggregate agg;
};

struct RollupRow {
  int64_t series_id = 0;
  int64_t bucket_ms = 0;
  Aggregate agg;
};

struct Compacted {
  std::vector<ChunkRow> chunks;      // one per (series, window) present in the input
  std::vector<RollupRow> rollup_1m;  // one per (series, minute)
  std::vector<RollupRow> rollup_1h;  // one per (series, hour)
};

// Groups the samples (parallel arrays, any order). Samples with equal series and time
// are all kept, in input order.
Compacted compact_samples(const std::vector<int64_t>& series_ids, const std::vector<int64_t>& ts_ms,
                          const std::vector<double>& values);

}  // namespace metricsd
