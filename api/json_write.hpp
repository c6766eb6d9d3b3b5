// JSON text for answers written directly (not through a JSON tree): strings and label
// sets, as json_response would write them (invalid UTF-8 replaced, never thrown).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/sample_batch.hpp"

namespace metricsd::api {

// "text", quoted and escaped.
std::string json_string(const std::string& s);
// {"key":"value",...} in the set's (key) order.
nlohmann::json labels_json(const LabelSet& labels);
std::string labels_text(const LabelSet& labels);

}  // namespace metricsd::api
