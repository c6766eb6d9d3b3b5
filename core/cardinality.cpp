// Series cardinality; see cardinality.hpp.
#include "core/cardinality.hpp"

#include <algorithm>

#include "core/compaction.hpp"

namespace metricsd {
namespace {

// The `limit` largest (count descending, then name), as counts.
std::vector<CardinalityReport::Count> top(
    const boost::unordered_flat_map<std::string_view, int64_t>& counts, size_t limit) {
  std::vector<CardinalityReport::Count> out;
  out.reserve(counts.size());
  for (const auto& [name, n] : counts)
    out.push_back({std::string(name), n});
  auto larger = [](const auto& a, const auto& b) {
    return a.series != b.series ? a.series > b.series : a.name < b.name;
  };
  if (out.size() > limit) {
    std::partial_sort(out.begin(), out.begin() + static_cast<ptrdiff_t>(limit), out.end(), larger);
    out.resize(limit);
  } else {
    std::sort(out.begin(), out.end(), larger);
  }
  return out;
}

}  // namespace

void CardinalityCounter::add(const SeriesKey& key) {
  add_metric(key.metric, 1);
  add_node(key.node, 1);
  add_labels(key.labels);
}

void CardinalityCounter::add_metric(std::string_view metric, int64_t series) {
  metrics_[metric] += series;
  series_ += series;
}

void CardinalityCounter::add_node(std::string_view node, int64_t series) {
  nodes_[node] += series;
}

void CardinalityCounter::add_labels(const LabelSet& labels) {
  for (const auto& [name, value] : labels) {
    LabelCount& l = labels_[name];
    ++l.series;
    l.values.insert(value);
  }
}

void CardinalityCounter::created(std::string_view metric, int64_t age_ms) {
  if (age_ms >= kDayMs) return;
  GrowthCount& g = growth_[metric];
  ++g.last_24h;
  if (age_ms < kHourMs) ++g.last_1h;
}

CardinalityReport CardinalityCounter::finish(size_t limit) const {
  CardinalityReport r;
  r.series = series_;
  r.metrics = static_cast<int64_t>(metrics_.size());
  r.nodes = static_cast<int64_t>(nodes_.size());
  r.label_names = static_cast<int64_t>(labels_.size());
  r.growing_metrics = static_cast<int64_t>(growth_.size());
  r.by_metric = top(metrics_, limit);
  r.by_node = top(nodes_, limit);
  for (const auto& [name, l] : labels_)
    r.labels.push_back({std::string(name), l.series, static_cast<int64_t>(l.values.size())});
  std::sort(r.labels.begin(), r.labels.end(), [](const auto& a, const auto& b) {
    return a.series != b.series ? a.series > b.series : a.name < b.name;
  });
  if (r.labels.size() > limit) r.labels.resize(limit);
  for (const auto& [metric, g] : growth_)
    r.growth.push_back({std::string(metric), g.last_1h, g.last_24h});
  std::sort(r.growth.begin(), r.growth.end(), [](const auto& a, const auto& b) {
    if (a.last_1h != b.last_1h) return a.last_1h > b.last_1h;
    if (a.last_24h != b.last_24h) return a.last_24h > b.last_24h;
    return a.metric < b.metric;
  });
  if (r.growth.size() > limit) r.growth.resize(limit);
  return r;
}

}  // namespace metricsd
