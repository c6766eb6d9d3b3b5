// Cardinality of the series registry, for GET /api/v1/admin/cardinality: how many series
// there are, by metric, by node and by label name (with the label's distinct values), and
// which metrics gained series in the last hour and day. Pure logic: the registry feeds it
// every series under its lock (storage/series_registry), the handler shapes the answer.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/sample_batch.hpp"

namespace metricsd {

struct CardinalityReport {
  struct Count {
    std::string name;
    int64_t series = 0;
  };
  struct Label {
    std::string name;
    int64_t series = 0;  // series carrying the label
    int64_t values = 0;  // distinct values among them
  };
  struct Growth {
    std::string metric;
    int64_t last_1h = 0, last_24h = 0;  // series created in the last hour, the last day
  };
  int64_t series = 0;
  int64_t metrics = 0, nodes = 0, label_names = 0;  // how many of each (before the limit)
  int64_t growing_metrics = 0;                      // metrics with series created in the last day
  std::vector<Count> by_metric;  // most series first (ties by name), at most the limit
  std::vector<Count> by_node;
  std::vector<Label> labels;   // most series first
  std::vector<Growth> growth;  // most created in the last hour first, then in the day
};

// Counts series as they are given; finish() makes the report. Keeps views of the strings
// it is given: they must outlive finish() (the registry's, read under its lock).
class CardinalityCounter {
 public:
  // Each series, all it carries.
  void add(const SeriesKey& key);
  // Or, where the series of each metric and node are counted already (the registry's
  // indexes): those counts, and each series' labels.
  void add_metric(std::string_view metric, int64_t series);
  void add_node(std::string_view node, int64_t series);
  void add_labels(const LabelSet& labels);
  // A series of `metric` created age_ms ago (only those of the last day matter).
  void created(std::string_view metric, int64_t age_ms);
  CardinalityReport finish(size_t limit) const;

 private:
  struct LabelCount {
    int64_t series = 0;
    boost::unordered_flat_set<std::string_view> values;
  };
  struct GrowthCount {
    int64_t last_1h = 0, last_24h = 0;
  };
  int64_t series_ = 0;
  boost::unordered_flat_map<std::string_view, int64_t> metrics_, nodes_;
  boost::unordered_flat_map<std::string_view, LabelCount> labels_;
  boost::unordered_flat_map<std::string_view, GrowthCount> growth_;
};

}  // namespace metricsd
