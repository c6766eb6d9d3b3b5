// Which series a read asks for: exact metric, a metric glob (`*` any run, `?` one
// character), a category, a node, and label equalities. Pure logic.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/sample_batch.hpp"

namespace metricsd {

struct SeriesFilter {
  std::optional<std::string> metric;    // exact name
  std::optional<std::string> glob;      // e.g. "gpu.*"
  std::optional<std::string> category;  // the part before the first '.'
  std::optional<std::string> node;
  std::vector<std::pair<std::string, std::string>> labels;  // all must match

  bool matches(const SeriesKey& key) const;
};

// Glob with `*` (any run of characters, also empty) and `?` (exactly one).
bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace metricsd
