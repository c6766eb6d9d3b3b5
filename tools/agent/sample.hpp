// One timestamped value of a metric, as the agent and the simulator send it with
// POST /api/v1/metrics. Labels are ordered so equal samples compare equal.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace metricsd::tools {

using Labels = std::map<std::string, std::string>;

struct Sample {
  std::string metric;
  Labels labels;
  double value = 0;
  int64_t ts_ms = 0;
  std::string node;  // empty: the request's default node

  bool operator==(const Sample&) const = default;
};

}  // namespace metricsd::tools
