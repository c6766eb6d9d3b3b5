// NodeMonitor: once a second, derives every node's status (online/stale/offline) from
// its last heartbeat and records each change as a node_status event, then hands each
// committed change to the CommitFanout (the stream, next alerts).
// Threads: the timer coroutine runs on the io context; the database work on the storage
// pool. start() and stop() come from the thread that starts and stops the daemon.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <string>

#include "core/commit_fanout.hpp"
#include "core/live_settings.hpp"
#include "core/node_status.hpp"
#include "core/prom.hpp"
#include "storage/database.hpp"

namespace metricsd::server {

class NodeMonitor {
 public:
  NodeMonitor(boost::asio::io_context& ioc, storage::Database& db, const LiveSettings& live,
              const CommitFanout& fanout, prom::Registry& metrics);
  void start();
  void stop();

 private:
  boost::asio::awaitable<void> run();

  storage::Database& db_;
  const LiveSettings& live_;  // the thresholds, read each pass
  boost::asio::steady_timer timer_;
  std::atomic<bool> stopping_{false};
  const CommitFanout& fanout_;  // each committed transition
  prom::Family<prom::Counter>& transitions_;
  prom::Family<prom::Gauge>& nodes_;
  prom::Counter& failures_;
};

}  // namespace metricsd::server
