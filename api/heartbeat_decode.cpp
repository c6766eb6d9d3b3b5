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

constexpr std::array<std::string_view, 8> kFields = {"type",  "hostname", "labels",  "interval_s",
                                                     "state", "info",     "metrics", "events"};
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

// One element of `events`, named `where` (events[2]); nullopt (and its problems
// reported) when anything in it is wrong.
std::optional<NodeEvent> decode_event(const json& e, const std::string& where,
                                      const std::string& node, const TimeBounds& bounds,
                                      Problems& problems) {
  if (!e.is_object()) {
    problems.at_field(where, "must be an object with `type` and optionally `ts` and `data`");
    return std::nullopt;
  }
  const size_t before = problems.count;
  for (auto it = e.begin(); it != e.end(); ++it)
    if (it.key() != "type" && it.key() != "ts" && it.key() != "data")
      problems.at_field(where + "." + it.key(), "unknown field (expected type, ts, data)");
  NodeEvent out{node, {}, bounds.now_ms, "{}"};
  auto type = e.find("type");
  if (type == e.end() || !type->is_string()) {
    problems.at_field(where + ".type", "required, a string");
  } else if (!valid_event_type(type->get_ref<const std::string&>())) {
    problems.at_field(where + ".type", "must match [a-z][a-z0-9_.]{0,63}");
  } else if (daemon_event_type(type->get_ref<const std::string&>())) {
    problems.at_field(where + ".type",
                      fmt::format("\"{}\" is an event type the daemon records itself; a node "
                                  "may not report it",
                                  type->get_ref<const std::string&>()));
  } else {
    out.type = type->get<std::string>();
  }
  if (auto ts = e.find("ts"); ts != e.end()) {
    auto t = json_time(*ts);
    if (!t)
      problems.at_field(where + ".ts", "must be an RFC 3339 string or unix seconds");
    else if (auto why = bounds.check(*t); !why.empty())
      problems.at_field(where + ".ts", std::move(why));
    else
      out.ts_ms = *t;
  }
  if (auto data = e.find("data"); data != e.end()) {
    if (!data->is_object()) {
      problems.at_field(where + ".data", "must be an object");
    } else if (auto at = find_nul_string(*data, where + ".data")) {
      problems.at_field(*at, "holds a NUL character (\\u0000), which cannot be stored");
    } else {
      std::string text = data->dump(-1, ' ', false, json::error_handler_t::replace);
      if (text.size() > kMaxEventDataBytes)
        problems.at_field(where + ".data", fmt::format("{} bytes as JSON text; at most {}",
                                                       text.size(), kMaxEventDataBytes));
      else
        out.data_json = std::move(text);
    }
  }
  if (problems.count != before) return std::nullopt;
  return out;
}

void decode_events(const json& events, const std::string& node, const TimeBounds& bounds,
                   Problems& problems, std::vector<NodeEvent>& out) {
  if (!events.is_array()) {
    problems.at_field("events", "must be an array of event objects");
    return;
  }
  if (events.size() > kMaxHeartbeatEvents) {
    problems.at_field("events", fmt::format("{} events; at most {} in one heartbeat", events.size(),
                                            kMaxHeartbeatEvents));
    return;
  }
  for (size_t i = 0; i < events.size() && !problems.full(); ++i)
    if (auto e = decode_event(events[i], fmt::format("events[{}]", i), node, bounds, problems))
      out.push_back(std::move(*e));
}

}  // namespace

DecodedHeartbeat decode_heartbeat(std::string_view body, const std::string& node,
                                  const TimeBounds& bounds, Problems& problems) {
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
          "unknown field (expected type, hostname, labels, interval_s, state, info, metrics, "
          "events)");
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
    decode_metrics_map(doc["metrics"], node, bounds.now_ms, "metrics", builder, problems);
  out.samples = builder.take();
  if (doc.contains("events")) decode_events(doc["events"], node, bounds, problems, out.events);
  return out;
}

}  // namespace metricsd::api
