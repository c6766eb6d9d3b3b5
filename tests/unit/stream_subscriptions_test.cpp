// The stream's subscription index and message encoding: groups, category/metric/node
// matching, no sample twice, node and event watchers.
#include "core/stream_subscriptions.hpp"

#include <gtest/gtest.h>

namespace metricsd::stream {
namespace {

using nlohmann::json;
using K = Channel::Kind;

class StreamIndex : public ::testing::Test {
 protected:
  const SeriesInfo* series(const std::string& metric, const std::string& node) {
    infos_.push_back(std::make_unique<SeriesInfo>(make_series_info({metric, node, {}})));
    return infos_.back().get();
  }
  std::vector<std::unique_ptr<SeriesInfo>> infos_;
  SubscriptionIndex index_;
};

TEST_F(StreamIndex, CategoryMetricAndNodeFilters) {
  auto* gpu_temp_a = series("gpu.temp_c", "a");
  auto* gpu_util_b = series("gpu.util", "b");
  auto* llm_a = series("llm.tokens_per_s", "a");
  auto* sys_b = series("system.cpu_util", "b");
  index_.set(1, {{K::kCategory, "gpu"}}, {});
  index_.set(2, {{K::kCategory, "gpu"}}, {});  // same group as 1
  index_.set(3, {{K::kMetric, "llm.tokens_per_s"}, {K::kCategory, "system"}}, {});
  index_.set(4, {{K::kCategory, "gpu"}, {K::kMetric, "gpu.temp_c"}}, {"a"});  // metric covered
  EXPECT_EQ(index_.groups(), 3u);
  std::vector<const SeriesInfo*> batch = {gpu_temp_a, llm_a, gpu_util_b, sys_b, gpu_temp_a};
  auto plan = index_.plan(batch);
  std::map<std::vector<ClientId>, std::vector<uint32_t>> got;
  for (auto& d : plan)
    got[d.clients] = d.samples;
  EXPECT_EQ(got,
            (std::map<std::vector<ClientId>, std::vector<uint32_t>>{
                {{1, 2}, {0, 2, 4}}, {{3}, {1, 3}}, {{4}, {0, 4}},  // node a only, each sample once
            }));
}

TEST_F(StreamIndex, RemoveAndReplace) {
  auto* gpu = series("gpu.temp_c", "a");
  index_.set(1, {{K::kCategory, "gpu"}}, {});
  index_.set(2, {{K::kCategory, "gpu"}}, {});
  index_.remove(1);
  std::vector<const SeriesInfo*> batch = {gpu};
  auto plan = index_.plan(batch);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].clients, std::vector<ClientId>{2});
  index_.set(2, {{K::kCategory, "llm"}}, {});  // replaces, leaving no gpu group
  EXPECT_TRUE(index_.plan(batch).empty());
  index_.set(2, {}, {});  // no channels: gone
  EXPECT_EQ(index_.clients(), 0u);
  EXPECT_FALSE(index_.any_metrics());
  EXPECT_EQ(index_.groups(), 0u);
}

TEST_F(StreamIndex, NodeAndEventWatchers) {
  index_.set(1, {{K::kNodes, ""}}, {});
  index_.set(2, {{K::kNodes, ""}, {K::kEvents, ""}}, {"gpu-07"});
  index_.set(3, {{K::kEvents, ""}, {K::kCategory, "gpu"}}, {});
  EXPECT_EQ(index_.node_watchers("gpu-07"), (std::vector<ClientId>{1, 2}));
  EXPECT_EQ(index_.node_watchers("gpu-01"), (std::vector<ClientId>{1}));
  EXPECT_EQ(index_.event_watchers("gpu-07"), (std::vector<ClientId>{2, 3}));
  EXPECT_EQ(index_.event_watchers("gpu-01"), (std::vector<ClientId>{3}));
  EXPECT_EQ(index_.metric_clients(), (std::vector<ClientId>{3}));
}

TEST(StreamEncode, MetricsMessageIsValidJson) {
  auto info = make_series_info({"gpu.temp_c", "gpu-07", {{"gpu", "0"}, {"q", "a\"b"}}});
  EXPECT_EQ(info.category, "gpu");
  std::string out;
  begin_metrics(out, 1795600000123);
  append_sample(out, info, 1795600000000, 71.5, true);
  append_sample(out, info, 1795600001000, 1e21, false);
  end_samples(out);
  auto j = json::parse(out);
  EXPECT_EQ(j["type"], "metrics");
  EXPECT_EQ(j["committed_ms"], 1795600000123);
  ASSERT_EQ(j["samples"].size(), 2u);
  EXPECT_EQ(j["samples"][0], json::parse(R"({"metric":"gpu.temp_c","node":"gpu-07",
      "labels":{"gpu":"0","q":"a\"b"},"ts":1795600000000,"value":71.5})"));
  EXPECT_EQ(j["samples"][1]["value"], 1e21);
  std::string snap;
  begin_snapshot(snap, 4);
  end_samples(snap, true);
  EXPECT_EQ(json::parse(snap),
            json::parse(R"({"type":"snapshot","id":4,"samples":[],"truncated":true})"));
}

}  // namespace
}  // namespace metricsd::stream
