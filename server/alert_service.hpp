// AlertService: evaluates the alert rules (core/alert_eval) on committed data as it
// arrives, records what changes (storage/alert_state_store) and notifies (notify/). It is
// a consumer of the CommitFanout: publish() copies a committed batch's samples into a
// bounded queue (what does not fit is dropped and counted) and returns; its own thread
// takes them, feeds the evaluator, evaluates the groups they touched, and once a second
// every group (for `for`, `keep_firing_for` and absence). With several daemons on one
// database only the holder of a PostgreSQL advisory lock evaluates and notifies; the
// others queue nothing and keep trying, so when the holder dies (its connection closes,
// the lock goes) another takes over and resumes from what the database holds: the active
// alerts (no duplicate firing, no lost resolve) and the notifications still queued.
//
// Notifications: each firing, escalation and resolve goes to every receiver that wants it
// (notify/alert_receiver), unless a silence matches (recorded `silenced`) or the group
// fired within its rule's cooldown of the last notified firing (recorded `cooldown`;
// escalations always go, a resolve goes when its episode was notified). They are written
// with the transition (an outbox), handed to the Notifier, and their outcomes recorded.
//
// Threads: publish()/publish_node() on the committing thread (never block); the *_changed()
// and acknowledged() calls on storage threads after a route changed a table; snapshot()
// from the stream hub's thread; everything else on the service's thread ("md-alerts"),
// which has its own database connection.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "core/alert_eval.hpp"
#include "core/alert_silence.hpp"
#include "core/committed_batch.hpp"
#include "core/prom.hpp"
#include "notify/notifier.hpp"
#include "storage/series_registry.hpp"

namespace metricsd::server {

struct AlertServiceOptions {
  std::string conninfo;
  std::function<bool()> ready;  // the database is migrated and usable (nothing is tried before)
  std::optional<notify::EmailSettings> email;  // alerts.smtp_*; none: email receivers fail
  std::string rules_file;                      // alerts.rules_file; "" for none
  size_t max_queued_samples = 1'000'000;
};

class AlertService {
 public:
  AlertService(AlertServiceOptions options, const storage::SeriesRegistry& registry,
               prom::Registry& metrics);
  ~AlertService();  // stops

  // The stream's `alerts` channel: each message (a JSON object) with its node, as it
  // happens. Set before start().
  void on_stream_message(std::function<void(std::string, std::string)> fn) {
    stream_ = std::move(fn);
  }
  // The active alerts as a JSON array (what the channel's snapshot sends).
  std::string snapshot() const;

  // The CommitFanout's consumers. Return what they could not take (0 / true: all).
  size_t publish(const CommittedBatch& batch);
  bool publish_node(const NodeStatusChange& change);
  // Rules, receivers or silences changed: reload before the next evaluation.
  void rules_changed();
  // An operator acknowledged an alert (already recorded).
  void acknowledged(int64_t rule_id, const std::string& node, const std::string& by);
  // SIGHUP: apply alerts.rules_file again.
  void reload_rules_file();

  void start();
  void stop();  // joins the thread, then the notifier's

 private:
  struct Sample {
    int64_t series, ts_ms;
    double value;
  };
  struct Ack {
    int64_t rule_id;
    std::string node, by;
  };
  using GroupKey = std::pair<int64_t, std::string>;  // rule id, node
  struct GroupNotes {
    bool notified = false;        // a receiver was told of this episode
    std::string acknowledged_by;  // "" when not acknowledged
    int64_t acknowledged_ms = 0;
  };
  void run();
  void pass(bool tick);
  bool hold_lock();
  void load_config(bool restore);
  void apply_rules_file();
  void notify(const std::vector<AlertTransition>& changes, int64_t now_ms);
  void record_outcomes();
  void publish_changes(const std::vector<AlertTransition>& changes);
  void update_snapshot();

  const AlertServiceOptions options_;
  const storage::SeriesRegistry& registry_;
  const size_t max_queued_;
  AlertEvaluator eval_;  // the thread's, like everything down to mu_
  std::unique_ptr<pqxx::connection> conn_;
  bool locked_ = false;
  int64_t next_reload_ms_ = 0;
  int64_t next_tick_ms_ = 0;
  bool failing_ = false;  // logged once per outage
  std::vector<notify::AlertReceiver> receivers_;
  std::vector<AlertSilence> silences_;
  std::map<int64_t, AlertRule> rule_meta_;   // by id: cooldown, description
  std::map<GroupKey, GroupNotes> notes_;     // active groups
  std::map<GroupKey, int64_t> last_firing_;  // last notified firing, within cooldowns
  std::function<void(std::string, std::string)> stream_;
  notify::Notifier notifier_;

  std::mutex mu_;  // guards the queues, reload_, stopping_, evaluating_, outcomes_, acks_
  std::condition_variable cv_;
  std::deque<Sample> samples_;
  std::deque<std::pair<std::string, std::string>> statuses_;  // node, status
  std::deque<notify::NotifyOutcome> outcomes_;
  std::deque<Ack> acks_;
  bool reload_ = true;
  bool reload_file_ = true;
  bool stopping_ = false;
  bool evaluating_ = false;  // holds the lock: publish() queues only then
  std::thread thread_;

  mutable std::mutex snapshot_mu_;
  std::string snapshot_ = "[]";

  prom::Counter& dropped_;
  prom::Counter& evaluated_;
  prom::Family<prom::Counter>& transitions_;
  prom::Counter& failures_;
  prom::Counter& window_dropped_;
  prom::Family<prom::Counter>& planned_;
  uint64_t window_dropped_seen_ = 0;
  std::atomic<size_t> held_samples_{0};
  std::atomic<size_t> rules_{0};
  std::atomic<uint64_t> announced_{0};  // rule changes announced by rules_changed()
  std::atomic<uint64_t> loaded_{0};     // announced_ as of the last rule load
  std::atomic<bool> leader_{false};
};

}  // namespace metricsd::server
