// libFuzzer target: the line-protocol reader and decoder on arbitrary bytes. Besides
// crashes and sanitizer reports it checks invariants: line numbers only grow and stay
// within the body, a parsed point has a measurement and fields, and a body the decoder
// accepts without problems yields only valid names, labels and in-bounds times; and the
// line cache changes nothing a decode yields.
// Built and run by tests/fuzz/run.sh (or -DMETRICSD_FUZZ=ON with clang).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "api/ingest_decode.hpp"
#include "api/line_protocol.hpp"
#include "api/line_series_cache.hpp"
#include "core/names.hpp"

namespace {

using namespace metricsd;
using namespace metricsd::api;

constexpr int64_t kNow = 1'795'514'400'000;  // 2026-11-24T10:00:00Z
const TimeBounds kBounds{kNow, 300'000, 30LL * 86'400'000};

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void read_directly(std::string_view body) {
  size_t lines = 1;
  for (char c : body)
    lines += c == '\n';
  LineProtocolReader reader(body);
  LpPoint pt;
  std::string error;
  size_t last_line = 0;
  while (reader.next(pt, &error)) {
    check(reader.line() > last_line && reader.line() <= lines);
    last_line = reader.line();
    if (!error.empty()) continue;
    check(!pt.measurement.empty() && pt.n_fields >= 1);
    check(pt.n_tags <= pt.tags.size() && pt.n_fields <= pt.fields.size());
    for (size_t i = 0; i < pt.n_tags; ++i)
      check(!pt.tags[i].key.empty() && !pt.tags[i].value.empty());
    for (size_t i = 0; i < pt.n_fields; ++i) {
      check(!pt.fields[i].key.empty());
      check(std::isfinite(pt.fields[i].value));
    }
  }
}

void decode(std::string_view body, Precision precision, std::string_view default_node) {
  Problems problems;
  LineProtocolStats stats;
  SampleBatch b = decode_line_protocol(body, precision, default_node, kBounds, problems, stats);
  check(problems.details.size() == std::min(problems.count, kMaxProblems));
  check(b.series_index.size() == b.size() && b.ts_ms.size() == b.size());
  if (!problems.empty()) return;
  for (size_t i = 0; i < b.size(); ++i) {
    check(b.series_index[i] < b.series.size());
    check(std::isfinite(b.values[i]));
    check(b.ts_ms[i] <= kBounds.now_ms + kBounds.max_future_ms &&
          b.ts_ms[i] >= kBounds.now_ms - kBounds.retention_ms);
  }
  for (const SeriesKey& s : b.series) {
    check(valid_metric_name(s.metric) && valid_node_id(s.node));
    check(s.labels.size() <= kMaxLabels);
    for (const auto& [k, v] : s.labels)
      check(valid_label_key(k) && valid_label_value(v) && k != "node");
  }
}

// The registry's contract over a map: identity -> id.
class MapResolver : public SeriesResolver {
 public:
  int64_t find(const std::string& identity) const override {
    auto it = ids.find(identity);
    return it == ids.end() ? 0 : it->second;
  }
  std::map<std::string, int64_t> ids;
};

// (id or new-series index, time, value) per sample, and the problems, as one string.
std::string outcome(const SampleBatch& b, const Problems& p, const LineProtocolStats& s) {
  std::string out = p.details.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "|" +
                    std::to_string(s.string_fields_skipped);
  for (size_t i = 0; i < b.size(); ++i)
    out += "|" + std::to_string(b.series_ids[i]) + "/" + std::to_string(b.series_index[i]) + "@" +
           std::to_string(b.ts_ms[i]) + "=" + std::to_string(b.values[i]);
  return out;
}

// With the body's series stored, decoding through the line cache (first filling it, then
// from it) gives exactly what decoding without it gives.
void decode_through_cache(std::string_view body, std::string_view default_node) {
  MapResolver r;
  {
    Problems p;
    LineProtocolStats s;
    SampleBatch b =
        decode_line_protocol(body, Precision::kNanoseconds, default_node, kBounds, p, s);
    for (const auto& id : b.identities)
      r.ids.emplace(id, static_cast<int64_t>(r.ids.size()) + 1);
  }
  auto run = [&](LineSeriesCache* cache) {
    Problems p;
    LineProtocolStats s;
    SampleBatch b =
        decode_line_protocol(body, Precision::kNanoseconds, default_node, kBounds, p, s, &r, cache);
    return outcome(b, p, s);
  };
  const std::string plain = run(nullptr);
  LineSeriesCache cache(1 << 20);
  check(run(&cache) == plain);
  check(run(&cache) == plain);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  read_directly(body);
  for (Precision p : {Precision::kNanoseconds, Precision::kMicroseconds, Precision::kMilliseconds,
                      Precision::kSeconds, Precision::kMinutes, Precision::kHours})
    decode(body, p, "fuzz-node");
  decode(body, Precision::kNanoseconds, "");
  decode_through_cache(body, "fuzz-node");
  return 0;
}
