// The in-memory head; see head.hpp.
#include "core/head.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <iterator>
#include <mutex>

#include "core/block_format.hpp"
#include "core/compaction.hpp"

namespace metricsd {

Head::Head() : shards_(std::make_unique<Shard[]>(kShards)) {}

namespace {

bool earlier(const Head::Point& a, const Head::Point& b) {
  return a.ts_ms < b.ts_ms;
}

// Late samples are merged in at most this far behind: a quarter of the ordered ones, and
// never fewer than this.
constexpr size_t kMinLate = 64;

}  // namespace

void Head::unseal(const Sealed& s, std::vector<Point>& out) {
  thread_local std::vector<int64_t> ts;
  thread_local std::vector<double> values;
  ts.clear();
  values.clear();
  decode_samples(s.block, ts, values);  // the head's own encoding: never corrupt
  for (size_t i = 0; i < ts.size(); ++i)
    out.push_back({ts[i], values[i]});
}

size_t Head::seal(std::vector<Sealed>& sealed, size_t at, const std::vector<Point>& pts, bool all) {
  std::vector<Sealed> blocks;
  std::vector<int64_t> ts;
  std::vector<double> values;
  size_t done = 0;
  while (pts.size() - done >= kSealSamples || (all && done < pts.size())) {
    size_t n = std::min(kSealSamples, pts.size() - done);
    ts.clear();
    values.clear();
    for (size_t i = done; i < done + n; ++i) {
      ts.push_back(pts[i].ts_ms);
      values.push_back(pts[i].value);
    }
    Sealed s{ts.front(), ts.back(), encode_samples(ts, values)};
    s.block.shrink_to_fit();
    blocks.push_back(std::move(s));
    done += n;
  }
  sealed.insert(sealed.begin() + static_cast<ptrdiff_t>(at),
                std::make_move_iterator(blocks.begin()), std::make_move_iterator(blocks.end()));
  return done;
}

void Head::reopen(SeriesHead& h, std::vector<Point>::const_iterator from,
                  std::vector<Point>::const_iterator to) {
  h.open.clear();
  if (from == to) {
    h.open.shrink_to_fit();  // an idle series keeps no buffer
    return;
  }
  h.open.reserve(kSealSamples);
  h.open.insert(h.open.end(), from, to);
}

void Head::seal_prefix(SeriesHead& h) {
  size_t k = seal(h.sealed, h.sealed.size(), h.open, false);
  h.open.erase(h.open.begin(), h.open.begin() + static_cast<ptrdiff_t>(k));
  if (h.open.capacity() > 4 * kSealSamples && h.open.size() < kSealSamples) {
    h.open.shrink_to_fit();
    h.open.reserve(kSealSamples);
  }
}

size_t Head::seal_open() {
  size_t sealed = 0;
  for (size_t s = 0; s < kShards; ++s) {
    std::unique_lock lock(shards_[s].mu);
    for (auto& [id, h] : shards_[s].map) {
      if (h.open.size() < kSealSamples) continue;
      sealed += h.open.size() / kSealSamples * kSealSamples;
      seal_prefix(h);
    }
  }
  return sealed;
}

void Head::merge_late(SeriesHead& h) {
  if (h.late.empty()) return;
  // Stable: equal times keep append order (ordered ones came first: a late sample is older
  // than every ordered sample appended after it).
  std::stable_sort(h.late.begin(), h.late.end(), earlier);
  std::vector<Point> ordered;
  ordered.reserve(h.ordered);
  for (const Sealed& s : h.sealed)
    unseal(s, ordered);
  ordered.insert(ordered.end(), h.open.begin(), h.open.end());
  std::vector<Point> merged;
  merged.reserve(ordered.size() + h.late.size());
  std::merge(ordered.begin(), ordered.end(), h.late.begin(), h.late.end(),
             std::back_inserter(merged), earlier);
  h.sealed.clear();
  size_t k = seal(h.sealed, 0, merged, false);
  reopen(h, merged.begin() + static_cast<ptrdiff_t>(k), merged.end());
  h.ordered = merged.size();
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
      if (h->ordered == 0 ||
          p.ts_ms >= (h->open.empty() ? h->sealed.back().last_ts_ms : h->open.back().ts_ms)) {
        if (h->open.capacity() == 0) h->open.reserve(kSealSamples);
        h->open.push_back(p);
        ++h->ordered;
        // Normally seal_open() seals them off this thread; this bounds a series' plain
        // samples when it does not run (the database away, a stalled storage pool).
        if (h->open.size() >= kSealInline) seal_prefix(*h);
      } else {
        h->late.push_back(p);
        if (h->late.size() >= std::max(kMinLate, h->ordered / 4)) merge_late(*h);
      }
      if (!h->latest || p.ts_ms >= h->latest->ts_ms) h->latest = p;
    }
  }
  samples_.fetch_add(series.size(), std::memory_order_relaxed);
}

void Head::remove(const std::vector<ChunkRow>& chunks) {
  size_t removed = 0;
  std::vector<Point> pts;
  std::vector<bool> drop;
  for (const ChunkRow& c : chunks) {
    if (c.ts_ms.empty()) continue;
    Shard& sh = shard(c.series_id);
    std::unique_lock lock(sh.mu);
    auto it = sh.map.find(c.series_id);
    if (it == sh.map.end()) continue;
    SeriesHead& h = it->second;
    merge_late(h);
    // The chunk's samples are sorted by time: only the sealed blocks overlapping its span,
    // and the open samples if it reaches them, can hold them.
    const int64_t lo = c.ts_ms.front(), hi = c.ts_ms.back();
    auto i0 = static_cast<size_t>(
        std::partition_point(h.sealed.begin(), h.sealed.end(),
                             [&](const Sealed& s) { return s.last_ts_ms < lo; }) -
        h.sealed.begin());
    size_t i1 = i0;
    while (i1 < h.sealed.size() && h.sealed[i1].first_ts_ms <= hi)
      ++i1;
    const bool with_open = i1 == h.sealed.size() && !h.open.empty() && h.open.front().ts_ms <= hi;
    pts.clear();
    for (size_t b = i0; b < i1; ++b)
      unseal(h.sealed[b], pts);
    if (with_open) pts.insert(pts.end(), h.open.begin(), h.open.end());
    // Both sides are sorted by time: walk them together, dropping each matched sample
    // (same time, same bits).
    drop.assign(pts.size(), false);
    size_t here = 0, j = 0;
    for (size_t k = 0; k < c.ts_ms.size(); ++k) {
      while (j < pts.size() && pts[j].ts_ms < c.ts_ms[k])
        ++j;
      const uint64_t want = std::bit_cast<uint64_t>(c.values[k]);
      size_t m = j;
      while (m < pts.size() && pts[m].ts_ms == c.ts_ms[k] &&
             (drop[m] || std::bit_cast<uint64_t>(pts[m].value) != want))
        ++m;
      if (m < pts.size() && pts[m].ts_ms == c.ts_ms[k]) {
        drop[m] = true;
        ++here;
      }
    }
    if (here == 0) continue;
    size_t out = 0;
    for (size_t i = 0; i < pts.size(); ++i)
      if (!drop[i]) pts[out++] = pts[i];
    pts.resize(out);
    h.sealed.erase(h.sealed.begin() + static_cast<ptrdiff_t>(i0),
                   h.sealed.begin() + static_cast<ptrdiff_t>(i1));
    if (with_open) {
      size_t k = seal(h.sealed, i0, pts, false);
      reopen(h, pts.begin() + static_cast<ptrdiff_t>(k), pts.end());
    } else {
      seal(h.sealed, i0, pts, true);
    }
    if (h.sealed.empty()) h.sealed.shrink_to_fit();
    h.ordered -= here;
    removed += here;
  }
  samples_.fetch_sub(removed, std::memory_order_relaxed);
}

size_t Head::erase(int64_t series, int64_t from_ms, int64_t to_ms,
                   std::optional<Point> stored_latest) {
  Shard& sh = shard(series);
  std::unique_lock lock(sh.mu);
  auto it = sh.map.find(series);
  if (it == sh.map.end()) return 0;
  SeriesHead& h = it->second;
  merge_late(h);
  std::vector<Point> pts;
  pts.reserve(h.ordered);
  for (const Sealed& s : h.sealed)
    unseal(s, pts);
  pts.insert(pts.end(), h.open.begin(), h.open.end());
  auto gone = [&](const Point& p) { return p.ts_ms >= from_ms && p.ts_ms < to_ms; };
  const size_t removed = static_cast<size_t>(std::erase_if(pts, gone));
  if (removed > 0) {
    h.sealed.clear();
    size_t k = seal(h.sealed, 0, pts, false);
    if (h.sealed.empty()) h.sealed.shrink_to_fit();
    reopen(h, pts.begin() + static_cast<ptrdiff_t>(k), pts.end());
    h.ordered = pts.size();
    samples_.fetch_sub(removed, std::memory_order_relaxed);
  }
  if (h.latest && gone(*h.latest)) {
    h.latest = stored_latest;
    if (!pts.empty() && (!h.latest || pts.back().ts_ms >= h.latest->ts_ms)) h.latest = pts.back();
  }
  if (h.ordered == 0 && !h.latest) sh.map.erase(it);
  return removed;
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
  auto b = std::partition_point(h.sealed.begin(), h.sealed.end(),
                                [&](const Sealed& s) { return s.last_ts_ms < from; });
  std::vector<Point> block;
  for (; b != h.sealed.end() && b->first_ts_ms < to; ++b) {
    block.clear();
    unseal(*b, block);
    auto lo = std::lower_bound(block.begin(), block.end(), at(from), earlier);
    auto hi = std::lower_bound(lo, block.end(), at(to), earlier);
    out.insert(out.end(), lo, hi);
  }
  auto lo = std::lower_bound(h.open.begin(), h.open.end(), at(from), earlier);
  auto hi = std::lower_bound(lo, h.open.end(), at(to), earlier);
  out.insert(out.end(), lo, hi);
  std::vector<Point> late;
  for (const Point& p : h.late)
    if (p.ts_ms >= from && p.ts_ms < to) late.push_back(p);
  if (late.empty()) return out;
  std::stable_sort(late.begin(), late.end(), earlier);
  std::vector<Point> merged;
  merged.reserve(out.size() + late.size());
  std::merge(out.begin(), out.end(), late.begin(), late.end(), std::back_inserter(merged), earlier);
  return merged;
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

size_t Head::bytes() const {
  size_t n = 0;
  for (size_t s = 0; s < kShards; ++s) {
    std::shared_lock lock(shards_[s].mu);
    const auto& map = shards_[s].map;
    n += map.bucket_count() * sizeof(std::pair<int64_t, SeriesHead>);
    for (const auto& [id, h] : map) {
      n += h.sealed.capacity() * sizeof(Sealed) +
           (h.open.capacity() + h.late.capacity()) * sizeof(Point);
      for (const Sealed& b : h.sealed)
        if (b.block.capacity() > 15) n += b.block.capacity() + 1;  // beyond the inline buffer
    }
  }
  return n;
}

}  // namespace metricsd
