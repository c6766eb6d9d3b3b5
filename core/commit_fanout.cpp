// The fan-out of committed data; see commit_fanout.hpp.
#include "core/commit_fanout.hpp"

#include <chrono>
#include <stdexcept>

namespace metricsd {

CommitFanout::CommitFanout(prom::Registry& metrics)
    : dropped_samples_(metrics.counter("metricsd_commit_fanout_dropped_samples_total",
                                       "Committed samples a consumer could not take (its queue "
                                       "was full), by consumer",
                                       {"consumer"})),
      dropped_changes_(metrics.counter("metricsd_commit_fanout_dropped_node_changes_total",
                                       "Node status changes a consumer could not take, by consumer",
                                       {"consumer"})),
      dropped_events_(metrics.counter("metricsd_commit_fanout_dropped_node_events_total",
                                      "Node-reported events a consumer could not take, by consumer",
                                      {"consumer"})),
      seconds_(metrics.counter("metricsd_commit_fanout_seconds_total",
                               "Time the committing thread spent handing committed samples to "
                               "each consumer",
                               {"consumer"})) {}

void CommitFanout::check_open(const std::string& name) const {
  if (sealed_.load())
    throw std::logic_error("commit fan-out: " + name + " registered after the daemon started");
}

void CommitFanout::on_samples(std::string consumer, SampleConsumer fn) {
  check_open(consumer);
  for (const auto& e : samples_)
    if (e.name == consumer) throw std::logic_error("commit fan-out: two consumers " + consumer);
  auto* dropped = &dropped_samples_.with({consumer});
  auto* seconds = &seconds_.with({consumer});
  samples_.push_back({std::move(consumer), std::move(fn), dropped, seconds});
}

void CommitFanout::on_node_status(std::string consumer, NodeConsumer fn) {
  check_open(consumer);
  for (const auto& e : nodes_)
    if (e.name == consumer) throw std::logic_error("commit fan-out: two consumers " + consumer);
  auto* dropped = &dropped_changes_.with({consumer});
  nodes_.push_back({std::move(consumer), std::move(fn), dropped});
}

void CommitFanout::on_node_event(std::string consumer, EventConsumer fn) {
  check_open(consumer);
  for (const auto& e : events_)
    if (e.name == consumer) throw std::logic_error("commit fan-out: two consumers " + consumer);
  auto* dropped = &dropped_events_.with({consumer});
  events_.push_back({std::move(consumer), std::move(fn), dropped});
}

void CommitFanout::publish(const CommittedBatch& batch) const {
  if (!sealed_.load()) throw std::logic_error("commit fan-out used before seal()");
  for (const auto& e : samples_) {
    auto started = std::chrono::steady_clock::now();
    size_t dropped = e.fn(batch);
    e.seconds->inc(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    if (dropped) e.dropped->inc(static_cast<double>(dropped));
  }
}

void CommitFanout::publish(const NodeStatusChange& change) const {
  if (!sealed_.load()) throw std::logic_error("commit fan-out used before seal()");
  for (const auto& e : nodes_)
    if (!e.fn(change)) e.dropped->inc();
}

void CommitFanout::publish(const NodeEvent& event) const {
  if (!sealed_.load()) throw std::logic_error("commit fan-out used before seal()");
  for (const auto& e : events_)
    if (!e.fn(event)) e.dropped->inc();
}

std::vector<std::string> CommitFanout::consumers() const {
  std::vector<std::string> out;
  for (const auto& e : samples_)
    out.push_back("samples:" + e.name);
  for (const auto& e : nodes_)
    out.push_back("node_status:" + e.name);
  for (const auto& e : events_)
    out.push_back("node_event:" + e.name);
  return out;
}

}  // namespace metricsd
