// One stream client's bounded queue: shedding metrics with a `dropped` report, control
// messages never shed, overflow and lag verdicts.
#include "core/stream_client_queue.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace metricsd::stream {
namespace {

Payload msg(const std::string& s) {
  return std::make_shared<const std::string>(s);
}

std::string next(ClientQueue& q) {
  auto p = q.pop();
  return p ? *p->payload : "<empty>";
}

TEST(StreamClientQueue, ShedsMetricsAndReportsTheCountBeforeTheNext) {
  ClientQueue q(2, 10'000);
  using O = ClientQueue::Offer;
  EXPECT_EQ(q.push_metrics(msg("m1"), 10, 0), O::kQueued);
  EXPECT_EQ(q.push_metrics(msg("m2"), 10, 0), O::kQueued);
  EXPECT_EQ(q.push_metrics(msg("m3"), 7, 0), O::kShed);
  EXPECT_EQ(q.push_metrics(msg("m4"), 5, 0), O::kShed);
  EXPECT_EQ(q.push_control(msg("pong"), 0), O::kQueued);  // control is never shed
  EXPECT_EQ(next(q), "m1");
  EXPECT_EQ(next(q), "m2");
  EXPECT_EQ(q.push_metrics(msg("m5"), 1, 0), O::kQueued);
  EXPECT_EQ(next(q), "pong");
  auto dropped = nlohmann::json::parse(next(q));
  EXPECT_EQ(dropped["type"], "dropped");
  EXPECT_EQ(dropped["count"], 12);
  EXPECT_EQ(dropped["messages"], 2);
  EXPECT_EQ(next(q), "m5");
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.shed_samples_total(), 12u);
}

TEST(StreamClientQueue, ReportsDropsOnceCaughtUpEvenWithoutNewSamples) {
  ClientQueue q(1, 10'000);
  q.push_metrics(msg("m1"), 1, 0);
  q.push_metrics(msg("m2"), 3, 0);  // shed
  EXPECT_EQ(next(q), "m1");
  EXPECT_FALSE(q.empty());
  EXPECT_EQ(nlohmann::json::parse(next(q))["count"], 3);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(next(q), "<empty>");
}

TEST(StreamClientQueue, ControlOverflowAndLag) {
  ClientQueue q(1, 1000);
  using O = ClientQueue::Offer;
  for (size_t i = 0; i < 1 + ClientQueue::kControlSlack; ++i)
    ASSERT_EQ(q.push_control(msg("c"), 0), O::kQueued);
  EXPECT_EQ(q.push_control(msg("c"), 0), O::kOverflow);
  ClientQueue slow(4, 1000);
  EXPECT_EQ(slow.push_metrics(msg("m"), 1, 0), O::kQueued);
  EXPECT_EQ(slow.push_metrics(msg("m"), 1, 1000), O::kQueued);  // exactly the limit is fine
  EXPECT_EQ(slow.push_metrics(msg("m"), 1, 1001), O::kTooSlow);
}

}  // namespace
}  // namespace metricsd::stream
