// Encoding of the stream's sample-carrying messages (`metrics`, `snapshot`): each series'
// JSON prefix is built once and reused, and a message is appended into one string
// without a JSON tree, since one message is serialized once for every client that
// receives it. Pure logic, no I/O.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/sample_batch.hpp"

namespace metricsd::stream {

// What the stream needs of one series; built once per series id.
struct SeriesInfo {
  std::string category;  // the part of the metric before its first '.'
  std::string metric;
  std::string node;
  std::string prefix;  // {"metric":"gpu.temp_c","node":"gpu-07","labels":{"gpu":"0"},"ts":
};

SeriesInfo make_series_info(const SeriesKey& key);

// {"type":"metrics","committed_ms":T,"samples":[   (T: wall-clock ms of the oldest commit)
void begin_metrics(std::string& out, int64_t committed_ms);
// {"type":"snapshot","id":ID,"samples":[
void begin_snapshot(std::string& out, const nlohmann::json& id);
// One sample object; `first` says whether it is the first in the array.
void append_sample(std::string& out, const SeriesInfo& s, int64_t ts_ms, double value, bool first);
// ]} or ],"truncated":true}
void end_samples(std::string& out, bool truncated = false);

}  // namespace metricsd::stream
