// Series selection; see series_filter.hpp.
#include "core/series_filter.hpp"

#include "core/names.hpp"

namespace metricsd {

bool glob_match(std::string_view p, std::string_view t) {
  size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  while (ti < t.size()) {
    // A `*` in the pattern is always a wildcard, even facing a literal `*` in the text.
    if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (pi < p.size() && (p[pi] == '?' || p[pi] == t[ti])) {
      ++pi;
      ++ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*')
    ++pi;
  return pi == p.size();
}

bool SeriesFilter::matches(const SeriesKey& key) const {
  if (metric && key.metric != *metric) return false;
  if (glob && !glob_match(*glob, key.metric)) return false;
  if (category && metric_category(key.metric) != *category) return false;
  if (node && key.node != *node) return false;
  for (const auto& [k, v] : labels) {
    bool found = false;
    for (const auto& [lk, lv] : key.labels)
      if (lk == k && lv == v) found = true;
    if (!found) return false;
  }
  return true;
}

}  // namespace metricsd
