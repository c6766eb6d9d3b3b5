// libFuzzer target: the JSON ingest decoder (POST /api/v1/metrics) on arbitrary bytes.
// Besides crashes and sanitizer reports it checks that a body accepted without problems
// yields only valid names, labels, finite values and in-bounds times.
// Built and run by tests/fuzz/run.sh (or -DMETRICSD_FUZZ=ON with clang).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
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
  for (const SeriesKey& s : b.series) {
    check(valid_metric_name(s.metric) && valid_node_id(s.node));
    check(s.labels.size() <= kMaxLabels);
    for (const auto& [k, v] : s.labels)
      check(valid_label_key(k) && valid_label_value(v));
  }
  return 0;
}
