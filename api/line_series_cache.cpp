// The per-thread line-protocol series cache; see line_series_cache.hpp.
#include "api/line_series_cache.hpp"

#include <boost/container_hash/hash.hpp>

namespace metricsd::api {

size_t LineSeriesCache::Hash::operator()(std::string_view s) const noexcept {
  return boost::hash_range(s.begin(), s.end());
}

void LineSeriesCache::use_generation(uint64_t generation) {
  if (generation == generation_) return;
  lines_.clear();
  bytes_ = 0;
  generation_ = generation;
}

void LineSeriesCache::make_key(std::string& out, std::string_view default_node,
                               std::string_view series_text) {
  out.assign(default_node);
  out += '\0';
  out += series_text;
}

const LineSeriesCache::Fields* LineSeriesCache::find(std::string_view key) const {
  auto it = lines_.find(key);
  return it == lines_.end() ? nullptr : &it->second;
}

size_t LineSeriesCache::cost(std::string_view key, const Fields& fields) {
  // The slot, the key's bytes and each field's pair and bytes, roughly.
  size_t n = 64 + key.size();
  for (const auto& [k, id] : fields)
    n += sizeof(std::pair<std::string, int64_t>) + k.size();
  return n;
}

void LineSeriesCache::remember(std::string_view key, const Fields& fields) {
  if (max_bytes_ == 0) return;
  auto it = lines_.find(key);
  Fields merged;
  if (it != lines_.end()) {
    merged = it->second;
    for (const auto& f : fields) {
      bool known = false;
      for (const auto& m : merged)
        known = known || m.first == f.first;
      if (!known) merged.push_back(f);
    }
    bytes_ -= cost(key, it->second);
  } else {
    merged = fields;
  }
  size_t add = cost(key, merged);
  if (add > max_bytes_) {  // never fits: forget the old entry too
    if (it != lines_.end()) lines_.erase(it);
    return;
  }
  if (bytes_ + add > max_bytes_) {
    lines_.clear();
    bytes_ = 0;
    ++resets_;
    lines_.emplace(std::string(key), std::move(merged));
  } else if (it != lines_.end()) {
    it->second = std::move(merged);
  } else {
    lines_.emplace(std::string(key), std::move(merged));
  }
  bytes_ += add;
}

}  // namespace metricsd::api
