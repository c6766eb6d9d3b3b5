// Node status rules: thresholds, and a node's own interval lengthening them.
#include "core/node_status.hpp"

#include <gtest/gtest.h>

namespace metricsd {
namespace {

struct Case {
  double age_s;
  std::optional<double> interval_s;
  NodeStatus want;
};

TEST(NodeStatus, DerivedFromAgeAndInterval) {
  NodeThresholds t{15, 60};
  std::vector<Case> cases = {
      {0, std::nullopt, NodeStatus::kOnline},
      {14.9, std::nullopt, NodeStatus::kOnline},
      {15, std::nullopt, NodeStatus::kStale},
      {59.9, std::nullopt, NodeStatus::kStale},
      {60, std::nullopt, NodeStatus::kOffline},
      {1e9, std::nullopt, NodeStatus::kOffline},
      {20, 5.0, NodeStatus::kStale},
      {20, 10.0, NodeStatus::kOnline},  // 3 x 10 s
      {100, 10.0, NodeStatus::kStale},
      {120, 10.0, NodeStatus::kOffline},  // 12 x 10 s
      {14, 1.0, NodeStatus::kOnline},     // a short interval never shortens the defaults
  };
  for (const auto& c : cases)
    EXPECT_EQ(derive_node_status(c.age_s, c.interval_s, t), c.want)
        << "age " << c.age_s << " interval " << c.interval_s.value_or(-1);
}

TEST(NodeStatus, NamesRoundTrip) {
  for (auto s : {NodeStatus::kOnline, NodeStatus::kStale, NodeStatus::kOffline})
    EXPECT_EQ(parse_node_status(to_string(s)), s);
  EXPECT_FALSE(parse_node_status("gone").has_value());
}

}  // namespace
}  // namespace metricsd
