// Alert evaluation and notification in the daemon; see alert_service.hpp.
#include "server/alert_service.hpp"

#include <spdlog/spdlog.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/clock.hpp"
#include "core/log_escape.hpp"
#include "core/thread_name.hpp"
#include "core/time_parse.hpp"
#include "notify/alert_message.hpp"
#include "storage/alert_state_store.hpp"
#include "storage/alert_store.hpp"

namespace metricsd::server {
namespace {

using nlohmann::json;

// The advisory lock one daemon of several holds while it evaluates ("alerts" in ASCII).
constexpr int64_t kAlertLockKey = 0x616c65727473;
// Rules, receivers, silences and node facts changed through another daemon are picked up
// within this.
constexpr int64_t kReloadEveryMs = 10'000;
constexpr int64_t kTickMs = 1000;
// Evaluation passes start 2t apart when a pass takes t, but at least kMinPassMs and at
// most kMaxPassGapMs apart: samples arriving between passes are evaluated together (a
// windowed aggregate is computed once per pass, not once per commit), a loaded evaluator
// spends about half a core, and a notification waits at most kMaxPassGapMs for its pass.
constexpr int64_t kMinPassMs = 20;
constexpr int64_t kMaxPassGapMs = 50;
// Notifications still queued in the database taken back at once after a restart.
constexpr int kMaxRequeue = 10'000;
// Cooldowns are at most 24 h (core/alert_rule), so firings older than that never matter.
constexpr int64_t kMaxCooldownMs = 24 * 3'600'000;

}  // namespace

AlertService::AlertService(AlertServiceOptions options, const storage::SeriesRegistry& registry,
                           prom::Registry& metrics)
    : options_(std::move(options)),
      registry_(registry),
      max_queued_(options_.max_queued_samples),
      notifier_(
          options_.email,
          [this](notify::NotifyOutcome o) {
            std::lock_guard lock(mu_);
            outcomes_.push_back(std::move(o));
            cv_.notify_one();
          },
          metrics),
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
              .get()),
      planned_(metrics.counter(
          "metricsd_alert_notifications_planned_total",
          "Notifications alert transitions caused, by what became of them at once (queued, "
          "silenced, cooldown, dropped: the receiver's queue was full)",
          {"state"})) {
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

std::string AlertService::snapshot() const {
  std::lock_guard lock(snapshot_mu_);
  return snapshot_;
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

void AlertService::acknowledged(int64_t rule_id, const std::string& node, const std::string& by) {
  std::lock_guard lock(mu_);
  if (acks_.size() < 10'000) acks_.push_back({rule_id, node, by});
  cv_.notify_one();
}

void AlertService::reload_rules_file() {
  std::lock_guard lock(mu_);
  reload_file_ = true;
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
  notifier_.stop();
}

void AlertService::run() {
  using SteadyClock = std::chrono::steady_clock;
  SteadyClock::time_point next_pass = SteadyClock::now();
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, next_pass, [this] { return stopping_; });
      if (stopping_) break;
      int64_t wait = std::max<int64_t>(0, next_tick_ms_ - wall_ms());
      cv_.wait_for(lock, std::chrono::milliseconds(wait), [this] {
        return stopping_ || reload_ || reload_file_ || !samples_.empty() || !statuses_.empty() ||
               !outcomes_.empty() || !acks_.empty();
      });
      if (stopping_) break;
    }
    const auto started = SteadyClock::now();
    bool tick = wall_ms() >= next_tick_ms_;
    if (tick) next_tick_ms_ = wall_ms() + kTickMs;
    try {
      pass(tick);
      failing_ = false;
      auto took = SteadyClock::now() - started;
      next_pass = started +
                  std::clamp<SteadyClock::duration>(2 * took, std::chrono::milliseconds(kMinPassMs),
                                                    std::chrono::milliseconds(kMaxPassGapMs));
    } catch (const std::exception& e) {
      failures_.inc();
      if (!failing_) spdlog::warn("alert evaluation failed (will retry): {}", e.what());
      failing_ = true;
      conn_.reset();  // the lock goes with the connection; whoever takes it resumes
      locked_ = false;
      leader_ = false;
      notifier_.set_receivers({});  // what was queued stays queued in the database
      std::unique_lock lock(mu_);
      evaluating_ = false;
      samples_.clear();
      statuses_.clear();
      outcomes_.clear();  // recorded by whoever delivers them again
      reload_file_ = true;
      // A second before the next try (the database may be restarting).
      cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; });
      if (stopping_) break;
    }
  }
  // Deliveries in flight end (at their timeouts); what they achieved is recorded, what
  // is still queued stays queued for the next evaluator.
  notifier_.stop();
  if (conn_ && locked_) {
    try {
      record_outcomes();
    } catch (const std::exception& e) {
      spdlog::warn(
          "alerts: notification outcomes not recorded at shutdown (they will be "
          "delivered again): {}",
          e.what());
    }
  }
  conn_.reset();
}

// Connects and takes the lock if it can; true while this daemon evaluates.
bool AlertService::hold_lock() {
  if (!options_.ready()) return false;
  if (!conn_) conn_ = std::make_unique<pqxx::connection>(options_.conninfo);
  if (locked_) return true;
  {
    pqxx::nontransaction tx(*conn_);
    locked_ = tx.exec_params("SELECT pg_try_advisory_lock($1)", kAlertLockKey)[0][0].as<bool>();
  }
  if (!locked_) return false;
  if (!failing_)
    spdlog::info("alerts: this daemon evaluates the alert rules and sends the notifications");
  leader_ = true;
  // The database is the truth: what this evaluator held before (it may have lost the lock
  // with transitions unrecorded) starts again from the alerts stored there.
  eval_ = AlertEvaluator();
  window_dropped_seen_ = 0;
  apply_rules_file();
  load_config(/*restore=*/true);
  {
    std::lock_guard lock(mu_);
    evaluating_ = true;
  }
  // Notifications the last evaluator queued and did not deliver.
  size_t requeued = 0;
  for (auto& [receiver, n] : storage::load_queued_notifications(*conn_, kMaxRequeue)) {
    int64_t id = n.id;
    if (notifier_.enqueue(receiver, std::move(n))) {
      ++requeued;
    } else {
      storage::record_notification_outcome(*conn_, id, "failed", 0,
                                           "receiver removed, disabled or its queue full");
    }
  }
  if (requeued) spdlog::info("alerts: {} notifications queued before a restart resent", requeued);
  return true;
}

// Rules from alerts.rules_file into the rules table: created, changed and deleted to
// match the file (a rule of the same name created through the API is left alone).
void AlertService::apply_rules_file() {
  {
    std::lock_guard lock(mu_);
    reload_file_ = false;
  }
  if (options_.rules_file.empty()) return;
  std::vector<AlertRule> rules;
  try {
    std::ifstream in(options_.rules_file);
    if (!in) throw std::runtime_error("cannot be read");
    std::stringstream text;
    text << in.rdbuf();
    rules = parse_alert_rules_text(text.str());
  } catch (const std::exception& e) {
    // At start the file was checked (a bad one stops the daemon); a later bad edit keeps
    // the rules as they are.
    spdlog::error("alerts.rules_file {}: {}; the rules stay as they were", options_.rules_file,
                  e.what());
    failures_.inc();
    return;
  }
  storage::AuditEntry audit;
  audit.token_name = "rules file";
  audit.source_addr = options_.rules_file;
  std::map<std::string, storage::SpecRow> existing;
  for (auto& row : storage::list_spec_rows(*conn_, storage::SpecTable::kRules))
    existing[row.name] = std::move(row);
  size_t created = 0, changed = 0, deleted = 0;
  for (const auto& r : rules) {
    storage::SpecRow row;
    row.name = r.name;
    json spec = alert_rule_json(r);
    row.spec_json = spec.dump();
    row.source = "file";
    auto it = existing.find(r.name);
    if (it == existing.end()) {
      audit.action = "alert_rule.create";
      storage::create_spec_row(*conn_, storage::SpecTable::kRules, row, audit);
      ++created;
      continue;
    }
    storage::SpecRow old = std::move(it->second);
    existing.erase(it);
    if (old.source != "file") {
      spdlog::warn(
          "alerts.rules_file: rule {} exists (made through the API); the file's is "
          "not applied",
          r.name);
      continue;
    }
    if (json::parse(old.spec_json) == spec && old.enabled) continue;
    audit.action = "alert_rule.update";
    storage::update_spec_row(*conn_, storage::SpecTable::kRules, old.id, row, audit, nullptr);
    ++changed;
  }
  for (const auto& [name, old] : existing) {
    if (old.source != "file") continue;
    audit.action = "alert_rule.delete";
    storage::delete_spec_row(*conn_, storage::SpecTable::kRules, old.id, audit, true);
    ++deleted;
  }
  if (created || changed || deleted) {
    spdlog::info("alerts.rules_file {}: {} rules created, {} changed, {} deleted",
                 options_.rules_file, created, changed, deleted);
    announced_.fetch_add(1);
    std::lock_guard lock(mu_);
    reload_ = true;
  }
}

void AlertService::load_config(bool restore) {
  const uint64_t announced = announced_.load();  // changes after this are loaded next time
  std::vector<AlertRule> rules;
  rule_meta_.clear();
  for (const auto& row : storage::list_spec_rows(*conn_, storage::SpecTable::kRules)) {
    if (!row.enabled) continue;
    try {
      AlertRule r = parse_alert_rule(json::parse(row.spec_json));
      r.id = row.id;
      r.name = row.name;
      rule_meta_[r.id] = r;
      rules.push_back(std::move(r));
    } catch (const std::exception& e) {  // stored by an older or newer release
      spdlog::warn("alert rule {} ({}) cannot be evaluated: {}", row.id, escape_for_log(row.name),
                   escape_for_log(e.what()));
    }
  }
  receivers_.clear();
  for (const auto& row : storage::list_spec_rows(*conn_, storage::SpecTable::kReceivers)) {
    if (!row.enabled) continue;
    try {
      json spec = json::parse(row.spec_json);
      spec["name"] = row.name;
      auto r = notify::parse_alert_receiver(spec, /*email_configured=*/true);
      r.id = row.id;
      receivers_.push_back(std::move(r));
    } catch (const std::exception& e) {
      spdlog::warn("alert receiver {} ({}) cannot be used: {}", row.id, escape_for_log(row.name),
                   escape_for_log(e.what()));
    }
  }
  notifier_.set_receivers(receivers_);
  silences_ = storage::list_silences(*conn_, /*ended=*/false, 10'000);
  {
    std::unordered_map<std::string, AlertEvaluator::NodeInfo> info;
    pqxx::nontransaction tx(*conn_);
    for (const auto& r : tx.exec("SELECT node_id, type, labels::text FROM nodes")) {
      AlertEvaluator::NodeInfo i;
      i.type = r[1].as<std::string>();
      json labels = json::parse(r[2].as<std::string>(), nullptr, false);
      if (labels.is_object())
        for (const auto& [k, v] : labels.items())
          if (v.is_string()) i.labels.emplace_back(k, v.get<std::string>());
      std::sort(i.labels.begin(), i.labels.end());
      info.emplace(r[0].as<std::string>(), std::move(i));
    }
    eval_.set_node_info(std::move(info));
  }
  int64_t now = wall_ms();
  auto ended = eval_.set_rules(std::move(rules), now);
  if (restore) {
    notes_.clear();
    for (const auto& row : storage::load_active_alerts(*conn_)) {
      eval_.restore(row.a);
      notes_[{row.a.rule_id, row.a.node}] = {row.notified, row.acknowledged_by,
                                             row.acknowledged_ms};
    }
    last_firing_ = storage::load_recent_firings(*conn_, now - kMaxCooldownMs);
    pqxx::nontransaction tx(*conn_);
    for (const auto& r : tx.exec("SELECT node_id, status FROM nodes"))
      eval_.node_status(r[0].as<std::string>(), r[1].as<std::string>());
  }
  notify(ended, now);
  rules_ = eval_.rules();
  loaded_ = announced;
  next_reload_ms_ = now + kReloadEveryMs;
  update_snapshot();
}

void AlertService::pass(bool tick) {
  if (!hold_lock()) return;
  bool reload, reload_file;
  std::deque<Sample> samples;
  std::deque<std::pair<std::string, std::string>> statuses;
  std::deque<Ack> acks;
  {
    std::lock_guard lock(mu_);
    reload = reload_ || wall_ms() >= next_reload_ms_;
    reload_file = reload_file_;
    reload_ = false;
    samples.swap(samples_);
    statuses.swap(statuses_);
    acks.swap(acks_);
  }
  if (reload_file) apply_rules_file();
  if (reload) load_config(/*restore=*/false);
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
  int64_t now = wall_ms();
  auto changes = eval_.evaluate(now, tick);
  notify(changes, now);
  evaluated_.inc(static_cast<double>(samples.size()));  // evaluated and recorded
  for (const auto& a : acks) {
    auto it = notes_.find({a.rule_id, a.node});
    if (it == notes_.end()) continue;
    it->second.acknowledged_by = a.by;
    it->second.acknowledged_ms = now;
    AlertTransition t{a.rule_id, "", a.node, "acknowledged", "", 0, now};
    for (const auto& active : eval_.active())
      if (active.rule_id == a.rule_id && active.node == a.node) {
        t.rule = active.rule;
        t.severity = active.severity;
        t.value = active.value;
      }
    if (!t.rule.empty()) changes.push_back(std::move(t));
  }
  if (!changes.empty() || !acks.empty()) {
    update_snapshot();
    publish_changes(changes);
  }
  record_outcomes();
  held_samples_ = eval_.held_samples();
  if (eval_.dropped_samples() > window_dropped_seen_) {
    window_dropped_.inc(static_cast<double>(eval_.dropped_samples() - window_dropped_seen_));
    window_dropped_seen_ = eval_.dropped_samples();
  }
}

// Records the transitions with the notifications they cause, then hands those to the
// notifier.
void AlertService::notify(const std::vector<AlertTransition>& changes, int64_t now_ms) {
  if (changes.empty()) return;
  std::vector<storage::PlannedNotification> planned;
  for (size_t i = 0; i < changes.size(); ++i) {
    const AlertTransition& t = changes[i];
    transitions_.with({t.event}).inc();
    // Rule names are what an admin sent: escaped like any client text.
    spdlog::info("alert {} {} on {}: {} ({})", escape_for_log(t.rule), t.event, t.node, t.severity,
                 t.value);
    GroupKey key{t.rule_id, t.node};
    if (t.event == "pending" || t.event == "firing") {
      if (t.event == "pending" || !notes_.count(key)) notes_[key] = {};
    }
    GroupNotes& notes = notes_[key];
    // What every receiver's notification of this transition becomes, before its filters.
    std::string state = "queued", detail;
    for (const auto& s : silences_)
      if (s.matches(t, now_ms)) {
        state = "silenced";
        detail = "silence " + std::to_string(s.id);
        break;
      }
    if (t.event == "firing" && state == "queued") {
      auto meta = rule_meta_.find(t.rule_id);
      int64_t cooldown = meta == rule_meta_.end() ? 0 : meta->second.cooldown_ms;
      auto last = last_firing_.find(key);
      if (last != last_firing_.end() && now_ms - last->second < cooldown) {
        state = "cooldown";
        detail = "fired " + std::to_string((now_ms - last->second) / 1000) +
                 " s after the last notified firing";
      }
    }
    if (t.event == "resolved" && !notes.notified) continue;  // nobody was told it fired
    bool any = false;
    for (const auto& r : receivers_) {
      if (!r.wants(t)) continue;
      planned.push_back({i, r.id, r.name, state, detail});
      any = true;
    }
    if (any && state == "queued") {
      notes.notified = true;
      if (t.event == "firing") last_firing_[key] = now_ms;
    }
  }
  auto ids = storage::record_alert_transitions(*conn_, changes, planned);
  for (size_t k = 0; k < planned.size(); ++k) {
    const auto& p = planned[k];
    if (p.state == "queued") {
      auto meta = rule_meta_.find(changes[p.transition].rule_id);
      notify::AlertNotification n{
          ids[k], changes[p.transition],
          meta == rule_meta_.end() ? std::string() : meta->second.description};
      if (!notifier_.enqueue(p.receiver_id, std::move(n))) {
        storage::record_notification_outcome(*conn_, ids[k], "dropped", 0,
                                             "the receiver's queue is full");
        planned_.with({"dropped"}).inc();
        continue;
      }
    }
    planned_.with({p.state}).inc();
  }
  for (const auto& t : changes)
    if (t.event == "resolved") notes_.erase({t.rule_id, t.node});
  // Firings past every cooldown no longer matter.
  std::erase_if(last_firing_, [&](const auto& e) { return now_ms - e.second >= kMaxCooldownMs; });
}

void AlertService::record_outcomes() {
  std::deque<notify::NotifyOutcome> outcomes;
  {
    std::lock_guard lock(mu_);
    outcomes.swap(outcomes_);
  }
  for (const auto& o : outcomes)
    storage::record_notification_outcome(*conn_, o.id, o.state, o.attempts, o.detail);
}

void AlertService::publish_changes(const std::vector<AlertTransition>& changes) {
  if (!stream_) return;
  for (const auto& t : changes) {
    json a = notify::alert_event_json(t);
    auto it = notes_.find({t.rule_id, t.node});
    if (it != notes_.end() && !it->second.acknowledged_by.empty())
      a["acknowledged_by"] = it->second.acknowledged_by;
    stream_(t.node, json{{"type", "alert"}, {"alert", a}}.dump());
  }
}

void AlertService::update_snapshot() {
  json out = json::array();
  for (const auto& a : eval_.active()) {
    json j = notify::active_alert_json(a);
    auto it = notes_.find({a.rule_id, a.node});
    if (it != notes_.end() && !it->second.acknowledged_by.empty()) {
      j["acknowledged_by"] = it->second.acknowledged_by;
      j["acknowledged_at"] = format_rfc3339_ms(it->second.acknowledged_ms);
    }
    out.push_back(std::move(j));
  }
  std::lock_guard lock(snapshot_mu_);
  snapshot_ = out.dump();
}

}  // namespace metricsd::server
