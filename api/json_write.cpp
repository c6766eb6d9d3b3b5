// Direct JSON text; see json_write.hpp.
#include "api/json_write.hpp"

namespace metricsd::api {

using nlohmann::json;

std::string json_string(const std::string& s) {
  return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
}

json labels_json(const LabelSet& labels) {
  json j = json::object();
  for (const auto& [k, v] : labels)
    j[k] = v;
  return j;
}

std::string labels_text(const LabelSet& labels) {
  if (labels.empty()) return "{}";
  return labels_json(labels).dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace metricsd::api
