// The query benchmark's data set and expected answers (see query_data_set.hpp).
#include "bench/query_data_set.hpp"

#include <charconv>
#include <map>
#include <stdexcept>
#include <string_view>
#include <utility>

#include "core/clock.hpp"

namespace metricsd::bench {
namespace {

// The field's value in a line-protocol line.
double field_value(const std::string& line, const std::string& field) {
  for (const char sep : {' ', ','}) {
    const std::string key = sep + field + "=";
    if (auto at = line.find(key); at != std::string::npos) {
      const char* p = line.data() + at + key.size();
      double v = 0;
      auto [end, ec] = std::from_chars(p, line.data() + line.size(), v);
      if (ec == std::errc{}) return v;
    }
  }
  throw UsageError("--field: no field '" + field + "' in the data (" + line.substr(0, 80) + "...)");
}

// Every field value of a line-protocol line, added up; *count gets how many.
double all_fields(const std::string& line, size_t* count) {
  size_t start = line.find(' ');
  size_t end = line.find(' ', start + 1);
  if (start == std::string::npos) return 0;
  std::string_view fields(line.data() + start + 1,
                          (end == std::string::npos ? line.size() : end) - start - 1);
  double sum = 0;
  while (!fields.empty()) {
    size_t comma = fields.find(',');
    std::string_view kv = fields.substr(0, comma);
    if (auto eq = kv.find('='); eq != std::string_view::npos) {
      double v = 0;
      std::string_view num = kv.substr(eq + 1);
      if (!num.empty() && num.back() == 'i') num.remove_suffix(1);
      if (std::from_chars(num.data(), num.data() + num.size(), v).ec == std::errc{}) {
        sum += v;
        ++*count;
      }
    }
    if (comma == std::string_view::npos) break;
    fields.remove_prefix(comma + 1);
  }
  return sum;
}

}  // namespace

DataSet make_data_set(const QueryOptions& o) {
  DataSet d;
  d.to_ms = o.end_ms != 0 ? o.end_ms : wall_ms() / kMinuteMs * kMinuteMs;
  const int64_t span_ms = int64_t{o.hours} * 3'600'000;
  const int64_t step_ms = int64_t{o.interval_s} * 1000;
  d.from_ms = d.to_ms - span_ms;
  d.rounds = static_cast<uint64_t>(span_ms / step_ms);
  d.spec.format = Format::line_protocol;
  d.spec.nodes = o.nodes;
  d.spec.fields = o.fields;
  d.spec.lines_per_body = o.samples_per_request / o.fields;
  d.spec.seed = o.seed;
  d.spec.start_ms = d.from_ms + step_ms / 2;
  d.spec.step_ms = step_ms;
  d.spec.max_rounds = d.rounds;
  return d;
}

// workload.cpp writes nanosecond stamps (ms followed by six zeros, 19 digits); keep the ms.
std::string with_ms_stamps(const Payload& p) {
  constexpr size_t kNsWidth = 19, kDropped = 6;
  std::string out;
  out.reserve(p.body.size());
  size_t pos = 0;
  for (const uint32_t off : p.ts_offsets) {
    if (p.body.compare(off + kNsWidth - kDropped, kDropped, "000000") != 0)
      throw std::logic_error("timestamp is not a whole millisecond");
    out.append(p.body, pos, off + kNsWidth - kDropped - pos);
    pos = off + kNsWidth;
  }
  out.append(p.body, pos, std::string::npos);
  return out;
}

Expected expect(const QueryOptions& o, const DataSet& d) {
  WorkloadSpec one = d.spec;
  one.lines_per_body = 1;
  const auto line_of = [&](uint32_t node, uint64_t round) {
    return build_payload(one, round * o.nodes + node).body;
  };
  uint32_t node = o.nodes;
  for (uint32_t n = 0; n < o.nodes && node == o.nodes; ++n) {
    if (line_of(n, 0).find(",node=" + o.node + ",") != std::string::npos) node = n;
  }
  if (node == o.nodes)
    throw UsageError("--node: '" + o.node + "' is not among the " + std::to_string(o.nodes) +
                     " nodes (node-0000 ...)");
  Expected e;
  std::map<int64_t, std::pair<double, int>> minutes;
  for (uint64_t r = 0; r < d.rounds; ++r) {
    const int64_t ts = d.spec.start_ms + static_cast<int64_t>(r) * d.spec.step_ms;
    auto& [sum, n] = minutes[(ts - d.from_ms) / kMinuteMs];
    sum += field_value(line_of(node, r), o.field);
    ++n;
  }
  for (const auto& [minute, acc] : minutes)
    e.range_checksum += acc.first / acc.second;
  e.range_points = minutes.size();
  for (uint32_t n = 0; n < o.nodes; ++n) {
    e.latest_checksum += field_value(line_of(n, d.rounds - 1), o.field);
    e.category_checksum += all_fields(line_of(n, d.rounds - 1), &e.category_points);
  }
  e.latest_nodes = o.nodes;
  return e;
}

}  // namespace metricsd::bench
