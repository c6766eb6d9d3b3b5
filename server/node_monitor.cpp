// The node status monitor; see node_monitor.hpp.
#include "server/node_monitor.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "server/spawn.hpp"
#include "storage/node_store.hpp"

namespace metricsd::server {

namespace asio = boost::asio;

NodeMonitor::NodeMonitor(asio::io_context& ioc, storage::Database& db, const LiveSettings& live,
                         const CommitFanout& fanout, prom::Registry& metrics)
    : db_(db),
      live_(live),
      timer_(ioc),
      fanout_(fanout),
      transitions_(metrics.counter("metricsd_node_status_transitions_total",
                                   "Node status changes made by the monitor", {"to"})),
      nodes_(metrics.gauge("metricsd_nodes", "Nodes by status", {"status"})),
      failures_(metrics
                    .counter("metricsd_node_monitor_failures_total",
                             "Monitor passes that failed (database unreachable, ...)")
                    .get()) {}

void NodeMonitor::start() {
  spawn_logged(timer_.get_executor(), run(), "node monitor");
}

void NodeMonitor::stop() {
  stopping_ = true;
  asio::post(timer_.get_executor(), [this] { timer_.cancel(); });
}

asio::awaitable<void> NodeMonitor::run() {
  bool reported = false;  // log a failing database once per outage
  while (!stopping_) {
    timer_.expires_after(std::chrono::seconds(1));
    co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopping_) break;
    if (!db_.ready()) continue;
    struct Change {
      std::string node, from;
      NodeStatus to;
      int64_t last_seen_ms;
    };
    std::vector<Change> changes;
    int counts[3] = {0, 0, 0};
    const NodeThresholds thresholds{static_cast<double>(live_.nodes_stale_after_s()),
                                    static_cast<double>(live_.nodes_offline_after_s())};
    try {
      co_await db_.pool().run([&](pqxx::connection& c) {
        for (const auto& n : storage::load_node_liveness(c)) {
          NodeStatus want = derive_node_status(n.age_s, n.interval_s, thresholds);
          auto have = parse_node_status(n.status);
          NodeStatus now = have.value_or(want);
          if (have != want &&
              storage::record_status_transition(c, n, std::string(to_string(want)))) {
            changes.push_back({n.node_id, n.status, want, n.last_seen_ms});
            now = want;
          }
          ++counts[static_cast<int>(now)];
        }
      });
      reported = false;
    } catch (const std::exception& e) {
      failures_.inc();
      if (!reported) spdlog::warn("node monitor: pass failed: {}", e.what());
      reported = true;
      continue;
    }
    for (auto s : {NodeStatus::kOnline, NodeStatus::kStale, NodeStatus::kOffline})
      nodes_.with({std::string(to_string(s))}).set(counts[static_cast<int>(s)]);
    for (const auto& c : changes) {
      transitions_.with({std::string(to_string(c.to))}).inc();
      spdlog::info("node {} is now {}", c.node, to_string(c.to));
      fanout_.publish(NodeStatusChange{c.node, c.from, std::string(to_string(c.to)), c.last_seen_ms,
                                       "node_status"});
    }
  }
}

}  // namespace metricsd::server
