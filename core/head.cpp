// The in-memory head; see head.hpp.
#include "core/head.hpp"

#include <algorithm>
#include <array>
#include <iterator>
#include <mutex>

#include "core/compaction.hpp"

namespace metricsd {

Head::Head() : shards_(std::make_unique<Shard[]>(kShards)) {}

namespace {

bool earlier(const Head::Point& a, const Head::Point& b) {
  return a.ts_ms < b.ts_ms;
}

// Late samples are merged in at most this far behind: a quarter of the sorted ones, and
// never fewer than this.
constexpr size_t kMinLate = 64;

}  // namespace

void Head::merge_late(SeriesHead& h) {
  if (h.late.empty()) return;
  // Stable: equal times keep append order (sorted ones came first: a late sample is older
  // than every sorted sample appended after it).
  std::stable_sort(h.late.begin(), h.late.end(), earlier);
  std::vector<Point> merged;
  merged.reserve(h.sorted.size() + h.late.size());
  std::merge(h.sorted.begin(), h.sorted.end(), h.late.begin(), h.late.end(),
             std::back_inserter(merged), earlier);
  h.sorted = std::move(merged);
  h.late.clear();
  h.late.shrink_to_fit();
}

void Head::append(const std::vector<int64_t>& series, const std::vector<int64_t>& ts,
                  const std::vector<double>& values) {
  // Group by shard so each shard is locked once per batch: a counting sort of the indexes.
  std::array<uint32_t, kShards + 1> start{};
  for (int64_t id : series)
    ++start[static_cast<uint64_t>(id) % kShards + 1];
  for (size_t s = 0; s < kShards; ++s)
    start[s + 1] += start[s];
  std::vector<uint32_t> order(series.size());
  {
    auto next = start;
    for (size_t i = 0; i < series.size(); ++i)
      order[next[static_cast<uint64_t>(series[i]) % kShards]++] = static_cast<uint32_t>(i);
  }
  for (size_t s = 0; s < kShards; ++s) {
    if (start[s] == start[s + 1]) continue;
    std::unique_lock lock(shards_[s].mu);
    auto& map = shards_[s].map;
    SeriesHead* h = nullptr;
    int64_t h_id = 0;
    for (uint32_t k = start[s]; k < start[s + 1]; ++k) {
      const uint32_t i = order[k];
      if (!h || series[i] != h_id) {  // a request's samples of one series are often adjacent
        h = &map[series[i]];
        h_id = series[i];
      }
      const Point p{ts[i], values[i]};
      if (h->sorted.empty() || p.ts_ms >= h->sorted.back().ts_ms) {
        h->sorted.push_back(p);
      } else {
        h->late.push_back(p);
        if (h->late.size() >= std::max(kMinLate, h->sorted.size() / 4)) merge_late(*h);
      }
      if (!h->latest || p.ts_ms >= h->latest->ts_ms) h->latest = p;
    }
  }
  samples_.fetch_add(series.size(), std::memory_order_relaxed);
}

void Head::remove(const std::vector<ChunkRow>& chunks) {
  size_t removed = 0;
  std::vector<bool> drop;
  for (const ChunkRow& c : chunks) {
    Shard& sh = shard(c.series_id);
    std::unique_lock lock(sh.mu);
    auto it = sh.map.find(c.series_id);
    if (it == sh.map.end()) continue;
    SeriesHead& h = it->second;
    merge_late(h);
    auto& pts = h.sorted;
    // Both sides are sorted by time: walk them together, dropping each matched sample.
    drop.assign(pts.size(), false);
    size_t j = 0;
    for (size_t k = 0; k < c.ts_ms.size(); ++k) {
      while (j < pts.size() && pts[j].ts_ms < c.ts_ms[k])
        ++j;
      size_t m = j;
      while (m < pts.size() && pts[m].ts_ms == c.ts_ms[k] &&
             (drop[m] || pts[m].value != c.values[k]))
        ++m;
      if (m < pts.size() && pts[m].ts_ms == c.ts_ms[k]) {
        drop[m] = true;
        ++removed;
      }
    }
    size_t out = 0;
    for (size_t i = 0; i < pts.size(); ++i)
      if (!drop[i]) pts[out++] = pts[i];
    pts.resize(out);
    // Give memory back only when most of it is idle: shrinking after every compaction
    // made the next appends reallocate and copy the whole series again.
    if (pts.capacity() > 4 * out + 64) pts.shrink_to_fit();
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
  auto at = [](int64_t t) { return Point{t, 0}; };
  auto lo = std::lower_bound(h.sorted.begin(), h.sorted.end(), at(from), earlier);
  auto hi = std::lower_bound(lo, h.sorted.end(), at(to), earlier);
  std::vector<Point> late;
  for (const Point& p : h.late)
    if (p.ts_ms >= from && p.ts_ms < to) late.push_back(p);
  if (late.empty()) return std::vector<Point>(lo, hi);
  std::stable_sort(late.begin(), late.end(), earlier);
  out.reserve(static_cast<size_t>(hi - lo) + late.size());
  std::merge(lo, hi, late.begin(), late.end(), std::back_inserter(out), earlier);
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
