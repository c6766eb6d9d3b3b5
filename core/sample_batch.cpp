// Sample batches; see sample_batch.hpp.
#include "core/sample_batch.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace metricsd {

std::string series_identity(const SeriesKey& key) {
  std::string id;
  id.reserve(key.metric.size() + key.node.size() + 2 + key.labels.size() * 16);
  id += key.metric;
  id += '\0';
  id += key.node;
  id += '\0';
  for (const auto& [k, v] : key.labels) {
    id += k;
    id += '\x01';
    id += v;
    id += '\0';
  }
  return id;
}

std::string labels_json(const LabelSet& labels) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : labels)
    j[k] = v;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

uint32_t SampleBatchBuilder::series(std::string metric, std::string node, LabelSet labels) {
  std::sort(labels.begin(), labels.end());
  SeriesKey key{std::move(metric), std::move(node), std::move(labels)};
  std::string id = series_identity(key);
  auto [it, inserted] =
      index_.try_emplace(std::move(id), static_cast<uint32_t>(batch_.series.size()));
  if (inserted) batch_.series.push_back(std::move(key));
  return it->second;
}

}  // namespace metricsd
