// AlertEvaluator: the rules (core/alert_rule.hpp) applied to committed samples and node
// status changes as they come, and to the clock. Alerts group per rule and node: a node's
// value for a rule is the worst of its selected series' aggregates. Each group moves
//   inactive -> pending (condition met, waiting `for`) -> firing -> resolved
// with anti-flap built in: the condition starts at a level and ends only past the rule's
// clear level (hysteresis), for a pending group (which then goes back without a word) as
// for a firing one (which resolves after `keep_firing_for` more); severity only rises
// while firing. While a node is stale or offline
// its threshold, cliff and absence groups hold still (its node_loss alert speaks for it).
//
// Memory is bounded: each series keeps the samples of its rule's window (two for a cliff)
// up to kMaxWindowSamples, the oldest dropped first (counted in dropped_samples()).
// Pure logic, one thread: the caller serializes every call.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/alert_rule.hpp"
#include "core/sample_batch.hpp"

namespace metricsd {

// A group that changed state, for the history and the notifiers.
struct AlertTransition {
  int64_t rule_id = 0;
  std::string rule;
  std::string node;
  std::string event;     // pending, firing, escalated, resolved
  std::string severity;  // the alert's severity after the change
  double value = 0;      // the group's value when it changed (NaN for node_loss, absence)
  int64_t ts_ms = 0;
};

// A notification of a transition to one receiver (storage keeps it, notify/ sends it).
struct AlertNotification {
  int64_t id = 0;  // the notification's id (alert_notifications.id): receivers deduplicate by it
  AlertTransition t;
  std::string description;  // the rule's
};

// A group that is pending or firing.
struct ActiveAlert {
  int64_t rule_id = 0;
  std::string rule;
  std::string node;
  std::string state;  // pending or firing
  std::string severity;
  double value = 0;
  int64_t since_ms = 0;    // pending since, or firing since
  int64_t changed_ms = 0;  // the last transition
};

class AlertEvaluator {
 public:
  static constexpr size_t kMaxWindowSamples = 4096;

  // Replaces the rules. A rule kept (same id, same definition) keeps its groups' state;
  // a changed or removed rule's groups are dropped (a firing one is resolved).
  std::vector<AlertTransition> set_rules(std::vector<AlertRule> rules, int64_t now_ms);
  // Restores a firing or pending group after a restart (no transition is reported for it).
  void restore(const ActiveAlert& a);

  // Whether observe() needs the key of series `id` (the first time it sees it after the
  // rules were set); else any key will do.
  bool needs_key(int64_t id) const { return !matches_.count(id); }
  // A committed sample of series `id`.
  void observe(int64_t id, const SeriesKey& key, int64_t ts_ms, double value);
  // A node's status (online, stale, offline) as committed.
  void node_status(const std::string& node, const std::string& status);
  // A node's type and labels as registered (for rules with node_type or node_labels).
  struct NodeInfo {
    std::string type;
    std::vector<std::pair<std::string, std::string>> labels;  // sorted by key
    bool operator==(const NodeInfo&) const = default;
  };
  // Replaces them all (the caller reloads them now and then).
  void set_node_info(std::unordered_map<std::string, NodeInfo> info);

  // Evaluates every group whose samples changed since the last call, or with `all`, every
  // group (the caller's timer, for `for`, `keep_firing_for` and absence).
  std::vector<AlertTransition> evaluate(int64_t now_ms, bool all);

  std::vector<ActiveAlert> active() const;
  size_t rules() const { return rules_.size(); }
  size_t held_samples() const { return held_samples_; }
  uint64_t dropped_samples() const { return dropped_samples_; }

 private:
  struct Window {
    std::deque<std::pair<int64_t, double>> samples;  // by arrival; times mostly rising
  };
  struct Group {
    std::map<int64_t, Window> series;  // by series id
    int64_t last_sample_ms = 0;        // absence: the newest sample's arrival (now)
    bool dirty = false;
    // State.
    enum class State { kInactive, kPending, kFiring } state = State::kInactive;
    std::string severity;
    double value = 0;
    int64_t since_ms = 0, changed_ms = 0;
    int64_t cleared_since_ms = -1;  // firing, condition ended at: keep_firing_for counts
  };
  struct RuleState {
    AlertRule rule;
    std::string definition;               // its JSON, to see whether set_rules changed it
    std::map<std::string, Group> groups;  // by node
  };

  // The group's value now; nullopt when it has no samples to judge.
  std::optional<double> value_of(const RuleState& rs, Group& g, int64_t now_ms);
  // Severity of the level the value reaches, or "" for none.
  static std::string level_reached(const AlertRule& r, double v);
  static bool cleared(const AlertRule& r, double v);
  void step(RuleState& rs, const std::string& node, Group& g, int64_t now_ms,
            std::vector<AlertTransition>& out);
  void trim(const AlertRule& r, Window& w, int64_t now_ms);
  bool node_selected(const AlertRule& r, const std::string& node) const;

  std::vector<RuleState> rules_;
  // Where a series' samples go, resolved once per series: map nodes never move, and every
  // change that drops groups or windows (set_rules, set_node_info) clears these.
  struct Target {
    RuleState* rule;
    const std::string* node;  // the group's key
    Group* group;
    Window* window;  // null for absence (only the time counts)
  };
  struct Match {
    std::string node;
    std::vector<Target> targets;
  };
  struct Dirty {
    RuleState* rule;
    const std::string* node;
    Group* group;
  };
  void mark_dirty(RuleState& rs, const std::string& node, Group& g);

  std::unordered_map<int64_t, Match> matches_;  // by series id, bounded by the series
  std::vector<Dirty> dirty_;                    // groups to evaluate at the next evaluate()
  std::unordered_map<std::string, std::string> node_status_;  // node -> online/stale/offline
  std::unordered_map<std::string, NodeInfo> node_info_;       // bounded by the nodes
  size_t held_samples_ = 0;
  uint64_t dropped_samples_ = 0;
};

}  // namespace metricsd
