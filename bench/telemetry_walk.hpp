// The storage benchmark's data: fleet telemetry as random walks at the precision real
// collectors report (temperatures and power to 0.1, utilisation in whole percent, memory in
// whole MiB, byte counters that only grow, a loss with four decimals), with occasional
// steps (a job starts, a fan kicks in) and gaps (a node goes away for a while). Seeded and
// deterministic; every value is drawn, none comes from a table. Pure: no I/O.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace metricsd::bench {

struct WalkSpec {
  uint32_t nodes = 100;
  uint32_t metrics = 20;                 // at most metric_names().size()
  int64_t start_ms = 1'767'225'600'000;  // 2026-01-01T00:00:00Z
  int64_t duration_ms = 24LL * 3600 * 1000;
  int64_t interval_ms = 10'000;
  int64_t jitter_ms = 0;  // each timestamp moves by up to ± this
  uint64_t seed = 1;
};

// The 20 metric names, in the order series are generated.
const std::vector<std::string>& metric_names();

// Calls fn(node, metric, times, values) once per series, node by node; times ascend.
void generate_walks(
    const WalkSpec& spec,
    const std::function<void(uint32_t node, uint32_t metric, const std::vector<int64_t>& ts_ms,
                             const std::vector<double>& values)>& fn);

}  // namespace metricsd::bench
