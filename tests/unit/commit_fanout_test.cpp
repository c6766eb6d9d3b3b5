// The commit fan-out: every registered consumer gets every commit (samples, node status
// changes, node events) in registration order, drops are counted per consumer, and
// registration closes when the daemon starts.
#include "core/commit_fanout.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace metricsd {
namespace {

CommittedBatch batch_of(const std::vector<const SampleRows*>& parts) {
  return CommittedBatch{std::span<const SampleRows* const>(parts.data(), parts.size())};
}

TEST(CommitFanout, EveryConsumerGetsEveryBatchInRegistrationOrder) {
  prom::Registry metrics;
  CommitFanout fanout(metrics);
  std::vector<std::string> calls;
  fanout.on_samples("head", [&](const CommittedBatch& b) {
    calls.push_back("head:" + std::to_string(b.samples()));
    return size_t{0};
  });
  fanout.on_samples("stream", [&](const CommittedBatch& b) {
    calls.push_back("stream:" + std::to_string(b.parts.size()));
    return size_t{0};
  });
  fanout.seal();
  SampleRows a{{1, 2}, {10, 20}, {0.5, 1.5}}, b{{3}, {30}, {2.5}};
  std::vector<const SampleRows*> parts{&a, &b};
  fanout.publish(batch_of(parts));
  EXPECT_EQ(calls, (std::vector<std::string>{"head:3", "stream:2"}));
}

TEST(CommitFanout, DropsAreCountedPerConsumer) {
  prom::Registry metrics;
  CommitFanout fanout(metrics);
  fanout.on_samples("full", [](const CommittedBatch& b) { return b.samples(); });
  fanout.on_samples("fine", [](const CommittedBatch&) { return size_t{0}; });
  fanout.on_node_status("busy", [](const NodeStatusChange&) { return false; });
  fanout.seal();
  SampleRows a{{1, 2}, {10, 20}, {0.5, 1.5}};
  std::vector<const SampleRows*> parts{&a};
  fanout.publish(batch_of(parts));
  fanout.publish(batch_of(parts));
  fanout.publish(NodeStatusChange{"n1", "new", "online", 1, "node_registered"});
  std::string text = metrics.render();
  EXPECT_NE(text.find("metricsd_commit_fanout_dropped_samples_total{consumer=\"full\"} 4"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("metricsd_commit_fanout_dropped_samples_total{consumer=\"fine\"} 0"),
            std::string::npos);
  EXPECT_NE(text.find("metricsd_commit_fanout_dropped_node_changes_total{consumer=\"busy\"} 1"),
            std::string::npos);
}

TEST(CommitFanout, NodeStatusChangesReachTheirConsumers) {
  prom::Registry metrics;
  CommitFanout fanout(metrics);
  std::vector<std::string> seen;
  fanout.on_node_status("stream", [&](const NodeStatusChange& c) {
    seen.push_back(c.node + ":" + c.from + "->" + c.to + ":" + c.event_type);
    return true;
  });
  fanout.seal();
  fanout.publish(NodeStatusChange{"n1", "stale", "online", 5, "node_status"});
  EXPECT_EQ(seen, std::vector<std::string>{"n1:stale->online:node_status"});
}

TEST(CommitFanout, NodeEventsReachTheirConsumersAndDropsAreCounted) {
  prom::Registry metrics;
  CommitFanout fanout(metrics);
  std::vector<std::string> seen;
  fanout.on_node_event("stream", [&](const NodeEvent& e) {
    seen.push_back(e.node + ":" + e.type + "@" + std::to_string(e.ts_ms) + ":" + e.data_json);
    return true;
  });
  fanout.on_node_event("busy", [](const NodeEvent&) { return false; });
  EXPECT_THROW(fanout.on_node_event("busy", [](const NodeEvent&) { return true; }),
               std::logic_error);
  EXPECT_THROW(fanout.publish(NodeEvent{"n1", "gpu_xid", 5, "{}"}), std::logic_error)
      << "published before seal()";
  // A node-status consumer of the same name is another list: it gets no events.
  int changes = 0;
  fanout.on_node_status("stream", [&](const NodeStatusChange&) { return ++changes > 0; });
  fanout.seal();
  EXPECT_THROW(fanout.on_node_event("late", [](const NodeEvent&) { return true; }),
               std::logic_error);
  fanout.publish(NodeEvent{"n1", "gpu_xid", 5, R"({"code":79})"});
  fanout.publish(NodeEvent{"n2", "disk.smart", 6, "{}"});
  EXPECT_EQ(seen, (std::vector<std::string>{R"(n1:gpu_xid@5:{"code":79})", "n2:disk.smart@6:{}"}));
  EXPECT_EQ(changes, 0);
  std::string text = metrics.render();
  EXPECT_NE(text.find("metricsd_commit_fanout_dropped_node_events_total{consumer=\"busy\"} 2"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("metricsd_commit_fanout_dropped_node_events_total{consumer=\"stream\"} 0"),
            std::string::npos)
      << text;
  EXPECT_EQ(fanout.consumers(), (std::vector<std::string>{"node_status:stream", "node_event:stream",
                                                          "node_event:busy"}));
}

TEST(CommitFanout, RegistrationClosesAtSealAndNamesAreUnique) {
  prom::Registry metrics;
  CommitFanout fanout(metrics);
  fanout.on_samples("head", [](const CommittedBatch&) { return size_t{0}; });
  EXPECT_THROW(fanout.on_samples("head", [](const CommittedBatch&) { return size_t{0}; }),
               std::logic_error);
  SampleRows a{{1}, {10}, {0.5}};
  std::vector<const SampleRows*> parts{&a};
  EXPECT_THROW(fanout.publish(batch_of(parts)), std::logic_error) << "published before seal()";
  fanout.seal();
  EXPECT_THROW(fanout.on_samples("late", [](const CommittedBatch&) { return size_t{0}; }),
               std::logic_error);
  EXPECT_EQ(fanout.consumers(), std::vector<std::string>{"samples:head"});
}

}  // namespace
}  // namespace metricsd
