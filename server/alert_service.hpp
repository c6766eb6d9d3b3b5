// AlertService: evaluates the alert rules (core/alert_eval) on committed data as it
// arrives and records what changes (storage/alert_store). It is a consumer of the
// CommitFanout: publish() copies a committed batch's samples into a bounded queue (what
// does not fit is dropped and counted) and returns; its own thread takes them, feeds the
// evaluator, evaluates the groups they touched, and once a second every group (for `for`,
// `keep_firing_for` and absence). With several daemons on one database only the holder of
// a PostgreSQL advisory lock evaluates; the others queue nothing and keep trying, so when
// the holder dies (its connection closes, the lock goes) another takes over and resumes
// from the alerts the database holds: no duplicate firing, no lost resolve.
//
// Threads: publish()/publish_node() on the committing thread (never block); rules_changed()
// on storage threads after a rule route changed the table; everything else on the
// service's thread ("md-alerts"), which has its own database connection.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "core/alert_eval.hpp"
#include "core/committed_batch.hpp"
#include "core/prom.hpp"
#include "storage/series_registry.hpp"

namespace metricsd::server {

class AlertService {
 public:
  // `ready`: whether the database is migrated and usable (nothing is tried before).
  AlertService(std::string conninfo, std::function<bool()> ready,
               const storage::SeriesRegistry& registry, prom::Registry& metrics,
               size_t max_queued_samples = 1'000'000);
  ~AlertService();  // stops

  // The CommitFanout's consumers. Return what they could not take (0 / true: all).
  size_t publish(const CommittedBatch& batch);
  bool publish_node(const NodeStatusChange& change);
  // The rules table changed: reload before the next evaluation.
  void rules_changed();

  void start();
  void stop();  // joins the thread

 private:
  struct Sample {
    int64_t series, ts_ms;
    double value;
  };
  void run();
  void pass(bool tick);
  bool hold_lock();
  void load_rules(bool restore);

  const std::string conninfo_;
  const std::function<bool()> ready_;
  const storage::SeriesRegistry& registry_;
  const size_t max_queued_;
  AlertEvaluator eval_;  // the thread's
  std::unique_ptr<pqxx::connection> conn_;
  bool locked_ = false;
  int64_t next_reload_ms_ = 0;
  int64_t next_tick_ms_ = 0;
  bool failing_ = false;  // logged once per outage

  std::mutex mu_;  // guards the queues, reload_, stopping_
  std::condition_variable cv_;
  std::deque<Sample> samples_;
  std::deque<std::pair<std::string, std::string>> statuses_;  // node, status
  bool reload_ = true;
  bool stopping_ = false;
  bool evaluating_ = false;  // holds the lock: publish() queues only then
  std::thread thread_;

  prom::Counter& dropped_;
  prom::Counter& evaluated_;
  prom::Family<prom::Counter>& transitions_;
  prom::Counter& failures_;
  prom::Counter& window_dropped_;
  uint64_t window_dropped_seen_ = 0;
  std::atomic<size_t> held_samples_{0};
  std::atomic<size_t> rules_{0};
  std::atomic<uint64_t> announced_{0};  // rule changes announced by rules_changed()
  std::atomic<uint64_t> loaded_{0};     // announced_ as of the last rule load
  std::atomic<bool> leader_{false};
};

}  // namespace metricsd::server
