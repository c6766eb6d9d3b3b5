// libFuzzer target: the JSON ingest decoders (POST /api/v1/metrics, and the heartbeat
// body) on arbitrary bytes. Besides crashes and sanitizer reports it checks that a body
// accepted without problems yields only valid names, labels, finite values and in-bounds
// times, and a heartbeat only fields and events within their limits.
// Built and run by tests/fuzz/run.sh (or -DMETRICSD_FUZZ=ON with clang).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/heartbeat_decode.hpp"
#include "api/ingest_decode.hpp"
#include "core/names.hpp"

namespace {

using namespace metricsd;
using namespace metricsd::api;

constexpr int64_t kNow = 1'795'514'400'000;  // 2026-11-24T10:00:00Z
const TimeBounds kBounds{kNow, 300'000, 30LL * 86'400'000};

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void check_series(const SampleBatch& b) {
  for (const SeriesKey& s : b.series) {
    check(valid_metric_name(s.metric) && valid_node_id(s.node));
    check(s.labels.size() <= kMaxLabels);
    for (const auto& [k, v] : s.labels)
      check(valid_label_key(k) && valid_label_value(v));
  }
}

// The same bytes as a heartbeat of node "fz-1".
void check_heartbeat(std::string_view body) {
  Problems problems;
  DecodedHeartbeat hb = decode_heartbeat(body, "fz-1", kBounds, problems);
  check(problems.details.size() == std::min(problems.count, kMaxProblems));
  if (!problems.empty()) return;
  const auto& f = hb.fields;
  check(!f.type || (f.type->size() <= 256 && valid_text(*f.type)));
  check(!f.hostname || (f.hostname->size() <= 256 && valid_text(*f.hostname)));
  for (const auto* o : {&f.labels_json, &f.state_json, &f.info_json})
    check(!*o || (*o)->size() <= 65536);
  check(!f.interval_s || (*f.interval_s > 0 && *f.interval_s <= 86400));
  for (size_t i = 0; i < hb.samples.size(); ++i) {
    check(std::isfinite(hb.samples.values[i]));
    check(hb.samples.ts_ms[i] == kNow);
  }
  for (const SeriesKey& s : hb.samples.series)
    check(s.node == "fz-1");
  check_series(hb.samples);
  check(hb.events.size() <= kMaxHeartbeatEvents);
  for (const NodeEvent& e : hb.events) {
    check(e.node == "fz-1" && valid_event_type(e.type) && !daemon_event_type(e.type));
    check(kBounds.check(e.ts_ms).empty());
    check(e.data_json.size() <= kMaxEventDataBytes && e.data_json.starts_with('{'));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  check_heartbeat(body);
  Problems problems;
  SampleBatch b = decode_metrics_json(body, kBounds, problems);
  check(problems.details.size() == std::min(problems.count, kMaxProblems));
  check(b.series_index.size() == b.size() && b.ts_ms.size() == b.size());
  if (!problems.empty()) return 0;
  for (size_t i = 0; i < b.size(); ++i) {
    check(b.series_index[i] < b.series.size());
    check(std::isfinite(b.values[i]));
    check(b.ts_ms[i] <= kBounds.now_ms + kBounds.max_future_ms &&
          b.ts_ms[i] >= kBounds.now_ms - kBounds.retention_ms);
  }
  check_series(b);
  return 0;
}
