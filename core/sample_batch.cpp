// Sample batches; see sample_batch.hpp.
#include "core/sample_batch.hpp"

#include <nlohmann/json.hpp>

namespace metricsd {

void append_series_identity(std::string& id, std::string_view metric, std::string_view node,
                            const LabelSet& labels) {
  id += metric;
  id += '\0';
  id += node;
  id += '\0';
  for (const auto& [k, v] : labels) {
    id += k;
    id += '\x01';
    id += v;
    id += '\0';
  }
}

std::string series_identity(const SeriesKey& key) {
  std::string id;
  append_series_identity(id, key.metric, key.node, key.labels);
  return id;
}

std::string labels_json(const LabelSet& labels) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : labels)
    j[k] = v;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

SampleBatchBuilder::Ref SampleBatchBuilder::series(std::string_view metric, std::string_view node,
                                                   const LabelSet& labels) {
  scratch_.clear();
  append_series_identity(scratch_, metric, node, labels);
  if (resolver_)
    if (int64_t id = resolver_->find(scratch_)) return {SampleBatch::kResolved, id};
  if (auto it = index_.find(scratch_); it != index_.end()) return {it->second, 0};
  auto index = static_cast<uint32_t>(batch_.series.size());
  batch_.series.push_back(SeriesKey{std::string(metric), std::string(node), labels});
  batch_.identities.push_back(scratch_);
  index_.emplace(scratch_, index);
  return {index, 0};
}

}  // namespace metricsd
