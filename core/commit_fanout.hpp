// CommitFanout: the one place committed data goes after COMMIT. Each consumer (the head,
// the ingest rate, the stream hub, the alert evaluator) registers once, by name, for
// samples, node status changes or node events, before the daemon starts; every commit is
// then handed to each in registration order.
//
// Threads: publish() runs on the committing thread (the group commit writer's, or the
// storage thread that committed a heartbeat) before the requests that wrote the data are
// answered, so a consumer must not block: it does in-memory work bounded by the batch (the
// head), or copies what it needs into its own bounded queue and returns, reporting what
// it had to drop. Drops (samples, node changes and node events apart) and the time spent
// in each sample consumer are counted in /metrics (metricsd_commit_fanout_*{consumer}).
// Registration is closed by seal(); the consumer lists are constant afterwards and read
// without a lock.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "core/committed_batch.hpp"
#include "core/prom.hpp"

namespace metricsd {

class CommitFanout {
 public:
  // Returns the number of samples it could not take (0: took them all).
  using SampleConsumer = std::function<size_t(const CommittedBatch&)>;
  // Returns false when it could not take the change.
  using NodeConsumer = std::function<bool(const NodeStatusChange&)>;
  // Returns false when it could not take the event.
  using EventConsumer = std::function<bool(const NodeEvent&)>;

  explicit CommitFanout(prom::Registry& metrics);
  CommitFanout(const CommitFanout&) = delete;
  CommitFanout& operator=(const CommitFanout&) = delete;

  // Throws std::logic_error after seal() or for a name already registered.
  void on_samples(std::string consumer, SampleConsumer fn);
  void on_node_status(std::string consumer, NodeConsumer fn);
  void on_node_event(std::string consumer, EventConsumer fn);
  // Closes registration; publishing before it is a programming error (std::logic_error).
  void seal() { sealed_.store(true); }

  void publish(const CommittedBatch& batch) const;
  void publish(const NodeStatusChange& change) const;
  void publish(const NodeEvent& event) const;

  // "samples:head", "node_status:stream", "node_event:stream", ...
  std::vector<std::string> consumers() const;

 private:
  struct SampleEntry {
    std::string name;
    SampleConsumer fn;
    prom::Counter* dropped;
    prom::Counter* seconds;
  };
  struct NodeEntry {
    std::string name;
    NodeConsumer fn;
    prom::Counter* dropped;
  };
  struct EventEntry {
    std::string name;
    EventConsumer fn;
    prom::Counter* dropped;
  };
  void check_open(const std::string& name) const;

  prom::Family<prom::Counter>& dropped_samples_;
  prom::Family<prom::Counter>& dropped_changes_;
  prom::Family<prom::Counter>& dropped_events_;
  prom::Family<prom::Counter>& seconds_;
  std::atomic<bool> sealed_{false};
  // Written before seal() on the starting thread only; constant afterwards.
  std::vector<SampleEntry> samples_;
  std::vector<NodeEntry> nodes_;
  std::vector<EventEntry> events_;
};

}  // namespace metricsd
