// SampleBatch: what one ingest request decodes to before it is stored: the distinct
// series it names (metric, node, sorted labels) and its samples referring to them.
// Decoders (line protocol, JSON, heartbeat) fill it through SampleBatchBuilder, which
// deduplicates series within the request.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace metricsd {

using LabelSet = std::vector<std::pair<std::string, std::string>>;  // sorted by key

struct SeriesKey {
  std::string metric;
  std::string node;
  LabelSet labels;
};

// Identity of a series in memory ("metric\0node\0k\x01v\0...").
std::string series_identity(const SeriesKey& key);
// Canonical labels text, stored as series.labels_key and series.labels: a JSON object
// with sorted keys.
std::string labels_json(const LabelSet& labels);

struct SampleBatch {
  std::vector<SeriesKey> series;
  std::vector<uint32_t> series_index;  // per sample
  std::vector<int64_t> ts_ms;
  std::vector<double> values;
  size_t size() const { return values.size(); }
};

class SampleBatchBuilder {
 public:
  // Returns the index of the series in the batch, adding it if new. Sorts labels.
  uint32_t series(std::string metric, std::string node, LabelSet labels);
  void add(uint32_t series_index, int64_t ts_ms, double value) {
    batch_.series_index.push_back(series_index);
    batch_.ts_ms.push_back(ts_ms);
    batch_.values.push_back(value);
  }
  size_t samples() const { return batch_.values.size(); }
  SampleBatch take() { return std::move(batch_); }

 private:
  SampleBatch batch_;
  std::unordered_map<std::string, uint32_t> index_;
};

}  // namespace metricsd
