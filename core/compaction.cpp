// Compaction arithmetic; see compaction.hpp.
#include "core/compaction.hpp"

#include <algorithm>
#include <numeric>

namespace metricsd {

int64_t floor_to(int64_t t, int64_t step) {
  int64_t q = t / step;
  if (t % step != 0 && t < 0) --q;
  return q * step;
}

void Aggregate::add(int64_t ts, double v) {
  if (n == 0) {
    min = max = v;
  } else {
    min = std::min(min, v);
    max = std::max(max, v);
  }
  if (n == 0 || ts >= last_ts_ms) {
    last = v;
    last_ts_ms = ts;
  }
  sum += v;
  ++n;
}

void Aggregate::merge(const Aggregate& o) {
  if (o.n == 0) return;
  if (n == 0) {
    *this = o;
    return;
  }
  min = std::min(min, o.min);
  max = std::max(max, o.max);
  sum += o.sum;
  n += o.n;
  if (o.last_ts_ms >= last_ts_ms) {
    last = o.last;
    last_ts_ms = o.last_ts_ms;
  }
}

namespace {

void rollup(std::vector<RollupRow>& out, int64_t series, int64_t step, int64_t ts, double v) {
  int64_t bucket = floor_to(ts, step);
  if (out.empty() || out.back().series_id != series || out.back().bucket_ms != bucket)
    out.push_back({series, bucket, {}});
  out.back().agg.add(ts, v);
}

}  // namespace

Compacted compact_samples(const std::vector<int64_t>& series, const std::vector<int64_t>& ts,
                          const std::vector<double>& values) {
  std::vector<uint32_t> order(values.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return series[a] != series[b] ? series[a] < series[b] : ts[a] < ts[b];
  });
  Compacted out;
  for (uint32_t i : order) {
    int64_t s = series[i], t = ts[i];
    double v = values[i];
    int64_t start = floor_to(t, kChunkWindowMs);
    if (out.chunks.empty() || out.chunks.back().series_id != s ||
        out.chunks.back().start_ms != start)
      out.chunks.push_back({s, start, start + kChunkWindowMs, {}, {}, {}});
    auto& c = out.chunks.back();
    c.ts_ms.push_back(t);
    c.values.push_back(v);
    c.agg.add(t, v);
    rollup(out.rollup_1m, s, kMinuteMs, t, v);
    rollup(out.rollup_1h, s, kHourMs, t, v);
  }
  return out;
}

}  // namespace metricsd
