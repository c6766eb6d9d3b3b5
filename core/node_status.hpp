// Node status rules: online while the last heartbeat is younger than stale_after, stale
// until offline_after, then offline. A node's own heartbeat interval can only lengthen
// the thresholds: stale_after = max(nodes.stale_after_s, 3 x interval), offline_after =
// max(nodes.offline_after_s, 12 x interval).
#pragma once

#include <optional>
#include <string_view>

namespace metricsd {

enum class NodeStatus { kOnline, kStale, kOffline };

std::string_view to_string(NodeStatus s);
std::optional<NodeStatus> parse_node_status(std::string_view s);

struct NodeThresholds {
  double stale_after_s = 15;
  double offline_after_s = 60;
};

// age_s: seconds since the last heartbeat; interval_s: the node's own, if it gave one.
NodeStatus derive_node_status(double age_s, std::optional<double> interval_s,
                              const NodeThresholds& t);

}  // namespace metricsd
