// LineSeriesCache: the series ids of line-protocol lines seen before, by the line's raw
// measurement-and-tags text (and the request's default node). A line found here skips
// node and label validation, metric naming and one registry lookup per field: its field
// keys are matched against the ids remembered for them. Only lines whose every field
// resolved to a stored series are remembered, so an entry never holds anything the
// registry does not. One cache per io thread (no lock), bounded in bytes (emptied when
// full), and emptied when the registry it was filled from is reloaded (its generation).
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace metricsd::api {

class LineSeriesCache {
 public:
  // Field key (as written in the line) -> series id, in the order first seen.
  using Fields = std::vector<std::pair<std::string, int64_t>>;

  explicit LineSeriesCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  // Empties the cache if its entries came from another registry generation.
  void use_generation(uint64_t generation);
  bool enabled() const { return max_bytes_ > 0; }

  // The cache key of a line: the default node, a NUL, the raw series text.
  static void make_key(std::string& out, std::string_view default_node,
                       std::string_view series_text);
  const Fields* find(std::string_view key) const;
  // Adds fields to the line's entry (creating it); empties the cache first if the bound
  // would be passed.
  void remember(std::string_view key, const Fields& fields);

  size_t bytes() const { return bytes_; }
  size_t lines() const { return lines_.size(); }
  uint64_t resets() const { return resets_; }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept;
  };
  struct Eq {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
  };
  static size_t cost(std::string_view key, const Fields& fields);

  const size_t max_bytes_;
  uint64_t generation_ = 0;
  size_t bytes_ = 0;
  uint64_t resets_ = 0;  // emptied because full
  boost::unordered_flat_map<std::string, Fields, Hash, Eq> lines_;
};

}  // namespace metricsd::api
