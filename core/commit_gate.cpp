// The commit gate; see commit_gate.hpp.
#include "core/commit_gate.hpp"

namespace metricsd {

void CommitGate::bury(const std::vector<int64_t>& ids) {
  if (ids.empty()) return;
  buried_.insert(ids.begin(), ids.end());
  any_buried_.store(true, std::memory_order_release);
}

size_t CommitGate::drop_buried(SampleRows& rows) const {
  if (!any_buried_.load(std::memory_order_acquire)) return 0;
  size_t out = 0;
  for (size_t i = 0; i < rows.series_ids.size(); ++i) {
    if (buried_.contains(rows.series_ids[i])) continue;
    rows.series_ids[out] = rows.series_ids[i];
    rows.ts_ms[out] = rows.ts_ms[i];
    rows.values[out] = rows.values[i];
    ++out;
  }
  const size_t dropped = rows.series_ids.size() - out;
  rows.series_ids.resize(out);
  rows.ts_ms.resize(out);
  rows.values.resize(out);
  return dropped;
}

}  // namespace metricsd
