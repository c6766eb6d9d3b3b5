// Alert evaluation in the daemon; see alert_service.hpp.
#include "server/alert_service.hpp"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "core/thread_name.hpp"
#include "storage/alert_store.hpp"

namespace metricsd::server {
namespace {

// The advisory lock one daemon of several holds while it evaluates ("alerts" in ASCII).
constexpr int64_t kAlertLockKey = 0x616c65727473;
// Rules changed through another daemon are picked up within this.
constexpr int64_t kReloadEveryMs = 10'000;
constexpr int64_t kTickMs = 1000;

}  // namespace

AlertService::AlertService(std::string conninfo, std::function<bool()> ready,
                           const storage::SeriesRegistry& registry, prom::Registry& metrics,
                           size_t max_queued_samples)
    : conninfo_(std::move(conninfo)),
      ready_(std::move(ready)),
      registry_(registry),
      max_queued_(max_queued_samples),
      dropped_(metrics
                   .counter("metricsd_alert_samples_dropped_total",
                            "Committed samples the alert evaluator's queue could not take")
                   .get()),
      evaluated_(metrics
                     .counter("metricsd_alert_samples_total",
                              "Committed samples the alert evaluator has taken")
                     .get()),
      transitions_(metrics.counter("metricsd_alert_transitions_total",
                                   "Alert state changes, by event", {"event"})),
      failures_(metrics
                    .counter("metricsd_alert_failures_total",
                             "Alert evaluation passes that failed (database errors)")
                    .get()),
      window_dropped_(
          metrics
              .counter("metricsd_alert_window_samples_dropped_total",
                       "Samples dropped from alert windows over their bound (oldest first)")
              .get()) {
  metrics.gauge_fn("metricsd_alert_held_samples", "Samples held in alert windows",
                   [this] { return static_cast<double>(held_samples_.load()); });
  metrics.gauge_fn("metricsd_alert_rules", "Alert rules being evaluated",
                   [this] { return static_cast<double>(rules_.load()); });
  metrics.gauge_fn("metricsd_alert_evaluator",
                   "1 when this daemon evaluates the alerts (holds the advisory lock)",
                   [this] { return leader_.load() ? 1.0 : 0.0; });
}

AlertService::~AlertService() {
  stop();
}

size_t AlertService::publish(const CommittedBatch& batch) {
  // No rule to feed and no change announced since the rules were loaded: the writer copies
  // nothing. (A rule created through this daemon is announced before its 201, so samples
  // written after that count.)
  if (rules_.load() == 0 && loaded_.load() == announced_.load()) return 0;
  std::lock_guard lock(mu_);
  if (!evaluating_) return 0;  // another daemon evaluates: nothing to keep
  size_t dropped = 0;
  for (const auto* part : batch.parts) {
    for (size_t i = 0; i < part->size(); ++i) {
      if (samples_.size() >= max_queued_) {
        ++dropped;
        continue;
      }
      samples_.push_back({part->series_ids[i], part->ts_ms[i], part->values[i]});
    }
  }
  if (dropped) dropped_.inc(static_cast<double>(dropped));
  cv_.notify_one();
  return dropped;
}

bool AlertService::publish_node(const NodeStatusChange& change) {
  std::lock_guard lock(mu_);
  if (!evaluating_) return true;
  if (statuses_.size() >= 100'000) return false;
  statuses_.emplace_back(change.node, change.to);
  cv_.notify_one();
  return true;
}

void AlertService::rules_changed() {
  announced_.fetch_add(1);
  std::lock_guard lock(mu_);
  reload_ = true;
  cv_.notify_one();
}

void AlertService::start() {
  thread_ = std::thread([this] {
    name_this_thread("md-alerts");
    run();
  });
}

void AlertService::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void AlertService::run() {
  while (true) {
    {
      std::unique_lock lock(mu_);
      int64_t wait = std::max<int64_t>(0, next_tick_ms_ - wall_ms());
      cv_.wait_for(lock, std::chrono::milliseconds(wait), [this] {
        return stopping_ || reload_ || !samples_.empty() || !statuses_.empty();
      });
      if (stopping_) break;
    }
    bool tick = wall_ms() >= next_tick_ms_;
    if (tick) next_tick_ms_ = wall_ms() + kTickMs;
    try {
      pass(tick);
      failing_ = false;
    } catch (const std::exception& e) {
      failures_.inc();
      if (!failing_) spdlog::warn("alert evaluation failed (will retry): {}", e.what());
      failing_ = true;
      conn_.reset();  // the lock goes with the connection; whoever takes it resumes
      locked_ = false;
      leader_ = false;
      std::unique_lock lock(mu_);
      evaluating_ = false;
      samples_.clear();
      statuses_.clear();
      // A second before the next try (the database may be restarting).
      cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
      if (stopping_) break;
    }
  }
  conn_.reset();
}

// Connects and takes the lock if it can; true while this daemon evaluates.
bool AlertService::hold_lock() {
  if (!ready_()) return false;
  if (!conn_) conn_ = std::make_unique<pqxx::connection>(conninfo_);
  if (locked_) return true;
  {
    pqxx::nontransaction tx(*conn_);
    locked_ = tx.exec_params("SELECT pg_try_advisory_lock($1)", kAlertLockKey)[0][0].as<bool>();
  }
  if (!locked_) return false;
  spdlog::info("alerts: this daemon evaluates the alert rules");
  leader_ = true;
  load_rules(/*restore=*/true);
  std::lock_guard lock(mu_);
  evaluating_ = true;
  return true;
}

void AlertService::load_rules(bool restore) {
  const uint64_t announced = announced_.load();  // changes after this are loaded next time
  std::vector<AlertRule> rules;
  for (const auto& row : storage::list_alert_rules(*conn_)) {
    if (!row.enabled) continue;
    try {
      AlertRule r = parse_alert_rule(nlohmann::json::parse(row.spec_json));
      r.id = row.id;
      r.name = row.name;
      rules.push_back(std::move(r));
    } catch (const std::exception& e) {  // stored by an older or newer release
      spdlog::warn("alert rule {} ({}) cannot be evaluated: {}", row.id, row.name, e.what());
    }
  }
  int64_t now = wall_ms();
  auto ended = eval_.set_rules(std::move(rules), now);
  if (restore) {
    for (const auto& a : storage::load_active_alerts(*conn_))
      eval_.restore(a);
    pqxx::nontransaction tx(*conn_);
    for (const auto& r : tx.exec("SELECT node_id, status FROM nodes"))
      eval_.node_status(r[0].as<std::string>(), r[1].as<std::string>());
  }
  storage::record_alert_transitions(*conn_, ended);
  for (const auto& t : ended)
    transitions_.with({t.event}).inc();
  rules_ = eval_.rules();
  loaded_ = announced;
  next_reload_ms_ = now + kReloadEveryMs;
}

void AlertService::pass(bool tick) {
  if (!hold_lock()) return;
  bool reload;
  std::deque<Sample> samples;
  std::deque<std::pair<std::string, std::string>> statuses;
  {
    std::lock_guard lock(mu_);
    reload = reload_ || wall_ms() >= next_reload_ms_;
    reload_ = false;
    samples.swap(samples_);
    statuses.swap(statuses_);
  }
  if (reload) load_rules(/*restore=*/false);
  for (const auto& [node, status] : statuses)
    eval_.node_status(node, status);
  SeriesKey unknown;
  for (const Sample& s : samples) {
    if (eval_.needs_key(s.series)) {
      auto key = registry_.key(s.series);
      if (!key) continue;  // not in this daemon's cache (yet): only possible across daemons
      eval_.observe(s.series, *key, s.ts_ms, s.value);
    } else {
      eval_.observe(s.series, unknown, s.ts_ms, s.value);
    }
  }
  auto changes = eval_.evaluate(wall_ms(), tick);
  storage::record_alert_transitions(*conn_, changes);
  evaluated_.inc(static_cast<double>(samples.size()));  // evaluated and recorded
  for (const auto& t : changes) {
    transitions_.with({t.event}).inc();
    spdlog::info("alert {} {} on {}: {} ({})", t.rule, t.event, t.node, t.severity, t.value);
  }
  held_samples_ = eval_.held_samples();
  if (eval_.dropped_samples() > window_dropped_seen_) {
    window_dropped_.inc(static_cast<double>(eval_.dropped_samples() - window_dropped_seen_));
    window_dropped_seen_ = eval_.dropped_samples();
  }
}

}  // namespace metricsd::server
