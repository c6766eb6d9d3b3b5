// The in-memory head; see head.hpp.
#include "core/head.hpp"

#include <algorithm>
#include <mutex>

#include "core/compaction.hpp"

namespace metricsd {

Head::Head() : shards_(std::make_unique<Shard[]>(kShards)) {}

void Head::append(const std::vector<int64_t>& series, const std::vector<int64_t>& ts,
                  const std::vector<double>& values) {
  // Group by shard so each shard is locked once per batch.
  std::vector<std::vector<size_t>> by_shard(kShards);
  for (size_t i = 0; i < series.size(); ++i)
    by_shard[static_cast<uint64_t>(series[i]) % kShards].push_back(i);
  for (size_t s = 0; s < kShards; ++s) {
    if (by_shard[s].empty()) continue;
    std::unique_lock lock(shards_[s].mu);
    auto& map = shards_[s].map;
    for (size_t i : by_shard[s]) {
      SeriesHead& h = map[series[i]];
      int64_t t = ts[i];
      if (h.ts.empty() || t >= h.ts.back()) {
        h.ts.push_back(t);
        h.values.push_back(values[i]);
      } else {  // late sample: keep the arrays sorted
        auto pos = std::upper_bound(h.ts.begin(), h.ts.end(), t) - h.ts.begin();
        h.ts.insert(h.ts.begin() + pos, t);
        h.values.insert(h.values.begin() + pos, values[i]);
      }
      if (!h.latest || t >= h.latest->ts_ms) h.latest = Point{t, values[i]};
    }
  }
  samples_.fetch_add(series.size(), std::memory_order_relaxed);
}

void Head::remove(const std::vector<ChunkRow>& chunks) {
  size_t removed = 0;
  for (const ChunkRow& c : chunks) {
    Shard& sh = shard(c.series_id);
    std::unique_lock lock(sh.mu);
    auto it = sh.map.find(c.series_id);
    if (it == sh.map.end()) continue;
    SeriesHead& h = it->second;
    // Both sides are sorted by time: walk them together, dropping each matched sample.
    std::vector<bool> drop(h.ts.size(), false);
    size_t j = 0;
    for (size_t k = 0; k < c.ts_ms.size(); ++k) {
      while (j < h.ts.size() && h.ts[j] < c.ts_ms[k])
        ++j;
      size_t m = j;
      while (m < h.ts.size() && h.ts[m] == c.ts_ms[k] && (drop[m] || h.values[m] != c.values[k]))
        ++m;
      if (m < h.ts.size() && h.ts[m] == c.ts_ms[k]) {
        drop[m] = true;
        ++removed;
      }
    }
    size_t out = 0;
    for (size_t i = 0; i < h.ts.size(); ++i) {
      if (drop[i]) continue;
      h.ts[out] = h.ts[i];
      h.values[out] = h.values[i];
      ++out;
    }
    h.ts.resize(out);
    h.values.resize(out);
    h.ts.shrink_to_fit();
    h.values.shrink_to_fit();
  }
  samples_.fetch_sub(removed, std::memory_order_relaxed);
}

void Head::clear() {
  for (size_t s = 0; s < kShards; ++s) {
    std::unique_lock lock(shards_[s].mu);
    shards_[s].map.clear();
  }
  samples_.store(0, std::memory_order_relaxed);
}

void Head::note_latest(int64_t series, Point p) {
  Shard& sh = shard(series);
  std::unique_lock lock(sh.mu);
  SeriesHead& h = sh.map[series];
  if (!h.latest || p.ts_ms > h.latest->ts_ms) h.latest = p;
}

std::vector<Head::Point> Head::range(int64_t series, int64_t from, int64_t to) const {
  std::vector<Point> out;
  const Shard& sh = shard(series);
  std::shared_lock lock(sh.mu);
  auto it = sh.map.find(series);
  if (it == sh.map.end()) return out;
  const SeriesHead& h = it->second;
  auto lo = std::lower_bound(h.ts.begin(), h.ts.end(), from) - h.ts.begin();
  auto hi = std::lower_bound(h.ts.begin(), h.ts.end(), to) - h.ts.begin();
  for (auto i = lo; i < hi; ++i)
    out.push_back({h.ts[i], h.values[i]});
  return out;
}

std::optional<Head::Point> Head::latest(int64_t series) const {
  const Shard& sh = shard(series);
  std::shared_lock lock(sh.mu);
  auto it = sh.map.find(series);
  if (it == sh.map.end()) return std::nullopt;
  return it->second.latest;
}

size_t Head::series() const {
  size_t n = 0;
  for (size_t s = 0; s < kShards; ++s) {
    std::shared_lock lock(shards_[s].mu);
    n += shards_[s].map.size();
  }
  return n;
}

}  // namespace metricsd
