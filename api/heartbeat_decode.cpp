// Heartbeat decoding; see heartbeat_decode.hpp.
#include "api/heartbeat_decode.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <array>

#include "api/json_text.hpp"
#include "core/names.hpp"

namespace metricsd::api {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 7> kFields = {"type",  "hostname", "labels", "interval_s",
                                                     "state", "info",     "metrics"};
constexpr size_t kMaxTextBytes = 256;
constexpr size_t kMaxObjectBytes = 65536;

std::optional<std::string> text_field(const json& doc, const char* f, Problems& problems) {
  if (!doc.contains(f)) return std::nullopt;
  const json& v = doc[f];
  if (!v.is_string() || v.get_ref<const std::string&>().size() > kMaxTextBytes ||
      !valid_text(v.get_ref<const std::string&>())) {
    problems.at_field(f, "must be a string of at most 256 bytes without NUL");
    return std::nullopt;
  }
  return v.get<std::string>();
}

std::optional<std::string> object_field(const json& doc, const char* f, Problems& problems) {
  if (!doc.contains(f)) return std::nullopt;
  const json& v = doc[f];
  if (!v.is_object()) {
    problems.at_field(f, "must be an object");
    return std::nullopt;
  }
  if (auto at = find_nul_string(v, f)) {
    problems.at_field(*at, "holds a NUL character (\\u0000), which cannot be stored");
    return std::nullopt;
  }
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > kMaxObjectBytes) {
    problems.at_field(f, "larger than 64 KiB");
    return std::nullopt;
  }
  return s;
}

void check_labels(const json& labels, Problems& problems) {
  for (auto it = labels.begin(); it != labels.end(); ++it) {
    const std::string field = "labels." + it.key();
    if (!it.value().is_string())
      problems.at_field(field, "must be a string");
    else if (!valid_label_key(it.key()))
      problems.at_field(field, "label key must match [A-Za-z_][A-Za-z0-9_]{0,63}");
    else if (!valid_label_value(it.value().get_ref<const std::string&>()))
      problems.at_field(field, "label value must be UTF-8 without NUL, at most 1024 bytes");
  }
}

}  // namespace

DecodedHeartbeat decode_heartbeat(std::string_view body, const std::string& node, int64_t now_ms,
                                  Problems& problems) {
  DecodedHeartbeat out;
  if (json_nesting_depth(body) > kMaxJsonDepth) {
    problems.at_field("body", fmt::format("nested deeper than {} levels", kMaxJsonDepth));
    return out;
  }
  json doc = body.empty() ? json::object() : json::parse(body, nullptr, false);
  if (doc.is_discarded()) {
    problems.at_field("body", "not valid JSON: " + json_parse_error(body));
    return out;
  }
  if (!doc.is_object()) {
    problems.at_field("body", "must be a JSON object");
    return out;
  }
  for (auto it = doc.begin(); it != doc.end(); ++it)
    if (std::find(kFields.begin(), kFields.end(), it.key()) == kFields.end())
      problems.at_field(
          it.key(),
          "unknown field (expected type, hostname, labels, interval_s, state, info, metrics)");
  auto& f = out.fields;
  f.type = text_field(doc, "type", problems);
  f.hostname = text_field(doc, "hostname", problems);
  f.labels_json = object_field(doc, "labels", problems);
  f.state_json = object_field(doc, "state", problems);
  f.info_json = object_field(doc, "info", problems);
  if (doc.contains("labels") && doc["labels"].is_object()) check_labels(doc["labels"], problems);
  if (doc.contains("interval_s")) {
    const json& v = doc["interval_s"];
    if (!v.is_number() || v.get<double>() <= 0 || v.get<double>() > 86400)
      problems.at_field("interval_s", "must be a number of seconds in (0, 86400]");
    else
      f.interval_s = v.get<double>();
  }
  SampleBatchBuilder builder;
  if (doc.contains("metrics"))
    decode_metrics_map(doc["metrics"], node, now_ms, "metrics", builder, problems);
  out.samples = builder.take();
  return out;
}

}  // namespace metricsd::api
