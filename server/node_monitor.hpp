// NodeMonitor: once a second, derives every node's status (online/stale/offline) from
// its last heartbeat and records each change as a node_status event. The database work
// runs on the storage pool; the timer on the io context.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <string>

#include "core/live_settings.hpp"
#include "core/node_status.hpp"
#include "core/prom.hpp"
#include "storage/database.hpp"

namespace metricsd::server {

class NodeMonitor {
 public:
  // Called (on an io thread) for each transition this daemon made; the stream hub's hook.
  using TransitionHook = std::function<void(const std::string& node, std::string_view from,
                                            NodeStatus to, int64_t last_seen_ms)>;

  NodeMonitor(boost::asio::io_context& ioc, storage::Database& db, const LiveSettings& live,
              prom::Registry& metrics);
  void on_transition(TransitionHook hook) { hook_ = std::move(hook); }
  void start();
  void stop();

 private:
  boost::asio::awaitable<void> run();

  storage::Database& db_;
  const LiveSettings& live_;  // the thresholds, read each pass
  boost::asio::steady_timer timer_;
  std::atomic<bool> stopping_{false};
  TransitionHook hook_;  // set before start()
  prom::Family<prom::Counter>& transitions_;
  prom::Family<prom::Gauge>& nodes_;
  prom::Counter& failures_;
};

}  // namespace metricsd::server
