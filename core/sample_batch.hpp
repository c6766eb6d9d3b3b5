// SampleBatch: what one ingest request decodes to before it is stored: the distinct
// series it names (metric, node, sorted labels) and its samples referring to them.
// Decoders (line protocol, JSON, heartbeat) fill it through SampleBatchBuilder, which
// deduplicates series within the request.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace metricsd {

using LabelSet = std::vector<std::pair<std::string, std::string>>;  // sorted by key

struct SeriesKey {
  std::string metric;
  std::string node;
  LabelSet labels;
};

// Identity of a series in memory ("metric\0node\0k\x01v\0..."), appended to `out`.
void append_series_identity(std::string& out, std::string_view metric, std::string_view node,
                            const LabelSet& labels);
std::string series_identity(const SeriesKey& key);
// Canonical labels text, stored as series.labels_key and series.labels: a JSON object
// with sorted keys.
std::string labels_json(const LabelSet& labels);

// Known series ids by identity (the series registry); 0 = not known.
class SeriesResolver {
 public:
  virtual ~SeriesResolver() = default;
  virtual int64_t find(const std::string& identity) const = 0;
};

// Samples whose series the resolver knew carry its id and kResolved as index; the others
// refer to `series` (each listed once), which the caller must create.
struct SampleBatch {
  static constexpr uint32_t kResolved = UINT32_MAX;
  std::vector<SeriesKey> series;        // series not known to the resolver
  std::vector<std::string> identities;  // series_identity of each of those
  std::vector<uint32_t> series_index;   // per sample: index into series, or kResolved
  std::vector<int64_t> series_ids;      // per sample: the known id, or 0
  std::vector<int64_t> ts_ms;
  std::vector<double> values;
  size_t size() const { return values.size(); }
};

class SampleBatchBuilder {
 public:
  // With a resolver, known series are resolved while decoding, without copies.
  explicit SampleBatchBuilder(const SeriesResolver* resolver = nullptr) : resolver_(resolver) {}
  // Where the samples of this series go: a known id, or its index among the batch's new
  // series. Labels must be sorted by key. Copies nothing for a series seen before.
  struct Ref {
    uint32_t index;
    int64_t id;
  };
  Ref series(std::string_view metric, std::string_view node, const LabelSet& labels);
  void add(Ref ref, int64_t ts_ms, double value) {
    batch_.series_index.push_back(ref.index);
    batch_.series_ids.push_back(ref.id);
    batch_.ts_ms.push_back(ts_ms);
    batch_.values.push_back(value);
  }
  size_t samples() const { return batch_.values.size(); }
  SampleBatch take() { return std::move(batch_); }

 private:
  const SeriesResolver* resolver_;
  SampleBatch batch_;
  boost::unordered_flat_map<std::string, uint32_t> index_;  // identity -> index in batch_.series
  std::string scratch_;                                     // reused identity buffer
};

}  // namespace metricsd
