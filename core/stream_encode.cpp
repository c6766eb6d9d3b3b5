// Stream message encoding; see stream_encode.hpp.
#include "core/stream_encode.hpp"

#include <charconv>

namespace metricsd::stream {

using nlohmann::json;

SeriesInfo make_series_info(const SeriesKey& key) {
  SeriesInfo s;
  s.metric = key.metric;
  s.node = key.node;
  auto dot = key.metric.find('.');
  s.category = key.metric.substr(0, dot);
  json labels = json::object();
  for (const auto& [k, v] : key.labels)
    labels[k] = v;
  auto dump = [](const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); };
  s.prefix = "{\"metric\":" + dump(key.metric) + ",\"node\":" + dump(key.node) +
             ",\"labels\":" + dump(labels) + ",\"ts\":";
  return s;
}

void begin_metrics(std::string& out, int64_t committed_ms) {
  out += "{\"type\":\"metrics\",\"committed_ms\":";
  out += std::to_string(committed_ms);
  out += ",\"samples\":[";
}

void begin_snapshot(std::string& out, const json& id) {
  out += "{\"type\":\"snapshot\",";
  if (!id.is_null()) out += "\"id\":" + id.dump() + ",";
  out += "\"samples\":[";
}

void append_sample(std::string& out, const SeriesInfo& s, int64_t ts_ms, double value, bool first) {
  if (!first) out += ',';
  out += s.prefix;
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, ts_ms);
  out.append(buf, r.ptr);
  out += ",\"value\":";
  r = std::to_chars(buf, buf + sizeof buf, value);  // shortest round-trip; values are finite
  out.append(buf, r.ptr);
  out += '}';
}

void end_samples(std::string& out, bool truncated) {
  out += truncated ? "],\"truncated\":true}" : "]}";
}

}  // namespace metricsd::stream
