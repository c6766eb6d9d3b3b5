// Node status rules; see node_status.hpp.
#include "core/node_status.hpp"

#include <algorithm>

namespace metricsd {

std::string_view to_string(NodeStatus s) {
  switch (s) {
    case NodeStatus::kOnline:
      return "online";
    case NodeStatus::kStale:
      return "stale";
    case NodeStatus::kOffline:
      return "offline";
  }
  return "offline";
}

std::optional<NodeStatus> parse_node_status(std::string_view s) {
  if (s == "online") return NodeStatus::kOnline;
  if (s == "stale") return NodeStatus::kStale;
  if (s == "offline") return NodeStatus::kOffline;
  return std::nullopt;
}

NodeStatus derive_node_status(double age_s, std::optional<double> interval_s,
                              const NodeThresholds& t) {
  double interval = interval_s.value_or(0);
  double stale_after = std::max(t.stale_after_s, 3 * interval);
  double offline_after = std::max({t.offline_after_s, 12 * interval, stale_after});
  if (age_s < stale_after) return NodeStatus::kOnline;
  if (age_s < offline_after) return NodeStatus::kStale;
  return NodeStatus::kOffline;
}

}  // namespace metricsd
