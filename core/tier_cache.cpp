// The rollup day cache; see tier_cache.hpp.
#include "core/tier_cache.hpp"

#include <algorithm>

namespace metricsd {

size_t TierCache::KeyHash::operator()(const Key& k) const {
  uint64_t h = static_cast<uint64_t>(k.series) * 0x9E3779B97F4A7C15ULL;
  h ^= static_cast<uint64_t>(k.day / kDayMs) + 0x7F4A7C159E3779B9ULL + (h << 6) + (h >> 2);
  return static_cast<size_t>(h ^ static_cast<uint64_t>(k.tier));
}

TierCache::Day TierCache::find(Tier tier, int64_t series, int64_t day_ms) {
  if (!enabled()) return nullptr;
  std::lock_guard lock(mu_);
  auto it = map_.find(Key{static_cast<int>(tier), series, day_ms});
  if (it == map_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second.lru);
  return it->second.rows;
}

void TierCache::put(Tier tier, int64_t series, int64_t day_ms, Day rows) {
  if (!enabled() || !rows) return;
  size_t bytes = cost(rows->size());
  if (bytes > max_bytes_ / 4) return;  // one day may not crowd out the rest
  Key key{static_cast<int>(tier), series, day_ms};
  std::lock_guard lock(mu_);
  if (auto it = map_.find(key); it != map_.end()) erase(it);
  while (bytes_ + bytes > max_bytes_ && !lru_.empty()) {
    erase(map_.find(lru_.back()));
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
  lru_.push_front(key);
  map_.emplace(key, Entry{std::move(rows), bytes, lru_.begin()});
  bytes_ += bytes;
}

void TierCache::invalidate(Tier tier, const std::vector<std::pair<int64_t, int64_t>>& series_days) {
  if (!enabled()) return;
  std::lock_guard lock(mu_);
  for (const auto& [series, day] : series_days)
    if (auto it = map_.find(Key{static_cast<int>(tier), series, day}); it != map_.end()) erase(it);
}

void TierCache::drop_ending_by(Tier tier, int64_t end_ms) {
  if (!enabled()) return;
  std::lock_guard lock(mu_);
  for (auto it = map_.begin(); it != map_.end();) {
    auto next = std::next(it);
    if (it->first.tier == static_cast<int>(tier) && it->first.day + kDayMs <= end_ms) erase(it);
    it = next;
  }
}

void TierCache::invalidate_series(const std::vector<int64_t>& sorted_ids, int64_t from_ms,
                                  int64_t to_ms) {
  if (!enabled() || sorted_ids.empty()) return;
  std::lock_guard lock(mu_);
  for (auto it = map_.begin(); it != map_.end();) {
    auto next = std::next(it);
    const Key& k = it->first;
    if (k.day < to_ms && k.day + kDayMs > from_ms &&
        std::binary_search(sorted_ids.begin(), sorted_ids.end(), k.series))
      erase(it);
    it = next;
  }
}

void TierCache::clear() {
  std::lock_guard lock(mu_);
  map_.clear();
  lru_.clear();
  bytes_ = 0;
}

void TierCache::erase(Map::iterator it) {
  bytes_ -= it->second.bytes;
  lru_.erase(it->second.lru);
  map_.erase(it);
}

size_t TierCache::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

size_t TierCache::days() const {
  std::lock_guard lock(mu_);
  return map_.size();
}

}  // namespace metricsd
