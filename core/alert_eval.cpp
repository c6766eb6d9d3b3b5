// Alert evaluation; see alert_eval.hpp.
#include "core/alert_eval.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_set>

namespace metricsd {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool node_matches(const SeriesFilter& f, const std::string& node) {
  if (!f.node) return true;
  return f.node->find_first_of("*?") == std::string::npos ? *f.node == node
                                                          : glob_match(*f.node, node);
}

// The aggregate of the samples with times in [from, to); nullopt when there are none.
std::optional<double> aggregate(AlertAgg agg, const std::deque<std::pair<int64_t, double>>& s,
                                int64_t from, int64_t to) {
  double acc = 0;
  int64_t last_ts = std::numeric_limits<int64_t>::min();
  size_t n = 0;
  for (const auto& [ts, v] : s) {
    if (ts < from || ts >= to || std::isnan(v)) continue;
    switch (agg) {
      case AlertAgg::kLast:
        if (ts >= last_ts) {
          last_ts = ts;
          acc = v;
        }
        break;
      case AlertAgg::kAvg:
        acc += v;
        break;
      case AlertAgg::kMin:
        acc = n ? std::min(acc, v) : v;
        break;
      case AlertAgg::kMax:
        acc = n ? std::max(acc, v) : v;
        break;
    }
    ++n;
  }
  if (n == 0) return std::nullopt;
  return agg == AlertAgg::kAvg ? acc / static_cast<double>(n) : acc;
}

}  // namespace

std::vector<AlertTransition> AlertEvaluator::set_rules(std::vector<AlertRule> rules,
                                                       int64_t now_ms) {
  std::vector<AlertTransition> out;
  std::vector<RuleState> next;
  next.reserve(rules.size());
  for (auto& r : rules) {
    RuleState rs;
    rs.definition = alert_rule_json(r).dump();
    rs.rule = std::move(r);
    for (auto& old : rules_)
      if (old.rule.id == rs.rule.id && old.definition == rs.definition) {
        rs.groups = std::move(old.groups);
        old.groups.clear();
        break;
      }
    next.push_back(std::move(rs));
  }
  // Whatever was not carried over ends: a firing group is resolved.
  for (auto& old : rules_)
    for (auto& [node, g] : old.groups) {
      for (const auto& [id, w] : g.series)
        held_samples_ -= w.samples.size();
      if (g.state == Group::State::kFiring)
        out.push_back({old.rule.id, old.rule.name, node, "resolved", g.severity, g.value, now_ms});
    }
  rules_ = std::move(next);
  matches_.clear();
  // The groups kept moved with their maps (their addresses stand); their rules did not.
  dirty_.clear();
  for (auto& rs : rules_)
    for (auto& [node, g] : rs.groups)
      if (g.dirty) dirty_.push_back({&rs, &node, &g});
  return out;
}

void AlertEvaluator::restore(const ActiveAlert& a) {
  for (auto& rs : rules_) {
    if (rs.rule.id != a.rule_id) continue;
    auto [it, added] = rs.groups.try_emplace(a.node);
    Group& g = it->second;
    g.state = a.state == "firing" ? Group::State::kFiring : Group::State::kPending;
    g.severity = a.severity;
    g.value = a.value;
    g.since_ms = a.since_ms;
    g.changed_ms = a.changed_ms;
    mark_dirty(rs, it->first, g);
    return;
  }
}

void AlertEvaluator::observe(int64_t id, const SeriesKey& key, int64_t ts_ms, double value) {
  auto it = matches_.find(id);
  if (it == matches_.end()) {
    Match m{key.node, {}};
    for (auto& rs : rules_)
      if (rs.rule.kind != AlertKind::kNodeLoss && rs.rule.select.matches(key) &&
          node_selected(rs.rule, key.node)) {
        auto [g, added] = rs.groups.try_emplace(key.node);
        Window* w = rs.rule.kind == AlertKind::kAbsence ? nullptr : &g->second.series[id];
        m.targets.push_back({&rs, &g->first, &g->second, w});
      }
    it = matches_.emplace(id, std::move(m)).first;
  }
  for (const Target& t : it->second.targets) {
    Group& g = *t.group;
    mark_dirty(*t.rule, *t.node, g);
    g.last_sample_ms = std::max(g.last_sample_ms, ts_ms);
    if (!t.window) continue;  // absence: only the time of the newest matters
    t.window->samples.emplace_back(ts_ms, value);
    ++held_samples_;
    trim(t.rule->rule, *t.window, ts_ms);
  }
}

void AlertEvaluator::trim(const AlertRule& r, Window& w, int64_t now_ms) {
  const int64_t span = r.kind == AlertKind::kCliff ? 2 * r.window_ms : r.window_ms;
  if (span == 0) {  // the last sample only (by time; equal times: the later one)
    if (w.samples.size() > 1) {
      auto newest = w.samples.begin();
      for (auto it = w.samples.begin(); it != w.samples.end(); ++it)
        if (it->first >= newest->first) newest = it;
      auto keep = *newest;
      held_samples_ -= w.samples.size() - 1;
      w.samples.assign(1, keep);
    }
    return;
  }
  while (!w.samples.empty() && w.samples.front().first < now_ms - span) {
    w.samples.pop_front();
    --held_samples_;
  }
  while (w.samples.size() > kMaxWindowSamples) {
    w.samples.pop_front();
    --held_samples_;
    ++dropped_samples_;
  }
}

void AlertEvaluator::node_status(const std::string& node, const std::string& status) {
  node_status_[node] = status;
  for (auto& rs : rules_) {
    if (rs.rule.kind == AlertKind::kNodeLoss) {
      if (node_matches(rs.rule.select, node) && node_selected(rs.rule, node)) {
        auto [it, added] = rs.groups.try_emplace(node);
        mark_dirty(rs, it->first, it->second);
      }
    } else if (auto it = rs.groups.find(node); it != rs.groups.end()) {
      mark_dirty(rs, it->first, it->second);
    }
  }
}

void AlertEvaluator::set_node_info(std::unordered_map<std::string, NodeInfo> info) {
  std::unordered_set<std::string> changed;
  for (const auto& [node, i] : info)
    if (auto it = node_info_.find(node); it == node_info_.end() || !(it->second == i))
      changed.insert(node);
  for (const auto& [node, i] : node_info_)
    if (!info.count(node)) changed.insert(node);
  node_info_ = std::move(info);
  bool filtered = std::any_of(rules_.begin(), rules_.end(), [](const RuleState& rs) {
    return rs.rule.node_type || !rs.rule.node_labels.empty();
  });
  // Series of those nodes may now be selected by other rules: match them again.
  if (filtered && !changed.empty())
    std::erase_if(matches_, [&](const auto& m) { return changed.count(m.second.node) > 0; });
}

bool AlertEvaluator::node_selected(const AlertRule& r, const std::string& node) const {
  if (!r.node_type && r.node_labels.empty()) return true;
  auto it = node_info_.find(node);
  if (it == node_info_.end()) return false;
  if (r.node_type && !glob_match(*r.node_type, it->second.type)) return false;
  for (const auto& want : r.node_labels)
    if (!std::binary_search(it->second.labels.begin(), it->second.labels.end(), want)) return false;
  return true;
}

std::optional<double> AlertEvaluator::value_of(const RuleState& rs, Group& g, int64_t now_ms) {
  const AlertRule& r = rs.rule;
  std::optional<double> worst;
  auto worse = [&](double v) {
    if (!worst) return true;
    return r.kind == AlertKind::kThreshold && r.below ? v < *worst : v > *worst;
  };
  for (auto& [id, w] : g.series) {
    trim(r, w, now_ms);
    std::optional<double> v;
    if (r.kind == AlertKind::kThreshold) {
      v = r.window_ms == 0 ? aggregate(r.agg, w.samples, std::numeric_limits<int64_t>::min(),
                                       std::numeric_limits<int64_t>::max())
                           : aggregate(r.agg, w.samples, now_ms - r.window_ms, now_ms + 1);
    } else {  // cliff: the percent change of the last window against the one before
      auto cur = aggregate(r.agg, w.samples, now_ms - r.window_ms, now_ms + 1);
      auto prev = aggregate(r.agg, w.samples, now_ms - 2 * r.window_ms, now_ms - r.window_ms);
      if (cur && prev && *prev != 0) {
        double change = (*cur - *prev) / std::fabs(*prev) * 100;
        v = r.below ? change : -change;  // below: a rise; else a drop, as a positive percent
      }
    }
    if (v && worse(*v)) worst = v;
  }
  return worst;
}

std::string AlertEvaluator::level_reached(const AlertRule& r, double v) {
  const bool lower_is_worse = r.kind == AlertKind::kThreshold && r.below;
  std::string reached;
  for (const auto& l : r.levels)
    if (lower_is_worse ? v <= l.value : v >= l.value) reached = l.severity;
  return reached;
}

bool AlertEvaluator::cleared(const AlertRule& r, double v) {
  const bool lower_is_worse = r.kind == AlertKind::kThreshold && r.below;
  return lower_is_worse ? v > r.clear : v < r.clear;
}

void AlertEvaluator::step(RuleState& rs, const std::string& node, Group& g, int64_t now_ms,
                          std::vector<AlertTransition>& out) {
  const AlertRule& r = rs.rule;
  std::string status = "online";
  if (auto it = node_status_.find(node); it != node_status_.end()) status = it->second;
  std::string level;
  bool clear = false;
  double value = kNaN;
  switch (r.kind) {
    case AlertKind::kNodeLoss:
      level =
          std::find(r.node_statuses.begin(), r.node_statuses.end(), status) != r.node_statuses.end()
              ? r.severity
              : "";
      clear = level.empty();
      break;
    case AlertKind::kAbsence:
      if (status != "online") return;  // held: the node_loss alert speaks for it
      level = g.last_sample_ms > 0 && now_ms - g.last_sample_ms >= r.for_ms ? r.severity : "";
      clear = level.empty();
      break;
    default: {
      if (status != "online") return;
      auto v = value_of(rs, g, now_ms);
      if (!v) return;  // nothing to judge: the state stands
      value = *v;
      level = level_reached(r, value);
      clear = cleared(r, value);
    }
  }
  auto emit = [&](const char* event) {
    g.changed_ms = now_ms;
    out.push_back({r.id, r.name, node, event, g.severity, value, now_ms});
  };
  g.value = value;
  switch (g.state) {
    case Group::State::kInactive:
      if (level.empty()) break;
      g.severity = level;
      g.since_ms = now_ms;
      g.cleared_since_ms = -1;
      if (r.kind == AlertKind::kAbsence || r.for_ms == 0) {
        g.state = Group::State::kFiring;
        emit("firing");
      } else {
        g.state = Group::State::kPending;
        emit("pending");
      }
      break;
    case Group::State::kPending:
      if (clear) {  // it ended before `for`: nobody is told
        g.state = Group::State::kInactive;
        break;
      }
      if (!level.empty() && severity_rank(level) > severity_rank(g.severity)) g.severity = level;
      if (now_ms - g.since_ms >= r.for_ms) {
        g.state = Group::State::kFiring;
        g.since_ms = now_ms;
        emit("firing");
      }
      break;
    case Group::State::kFiring:
      if (!level.empty() && severity_rank(level) > severity_rank(g.severity)) {
        g.severity = level;
        emit("escalated");
      }
      if (!clear) {
        g.cleared_since_ms = -1;
        break;
      }
      if (g.cleared_since_ms < 0) g.cleared_since_ms = now_ms;
      if (now_ms - g.cleared_since_ms >= r.keep_firing_for_ms) {
        g.state = Group::State::kInactive;
        emit("resolved");
      }
      break;
  }
}

void AlertEvaluator::mark_dirty(RuleState& rs, const std::string& node, Group& g) {
  if (g.dirty) return;
  g.dirty = true;
  dirty_.push_back({&rs, &node, &g});
}

std::vector<AlertTransition> AlertEvaluator::evaluate(int64_t now_ms, bool all) {
  std::vector<AlertTransition> out;
  if (all) {
    dirty_.clear();
    for (auto& rs : rules_)
      for (auto& [node, g] : rs.groups) {
        g.dirty = false;
        step(rs, node, g, now_ms, out);
      }
    return out;
  }
  std::vector<Dirty> dirty;
  dirty.swap(dirty_);
  for (const Dirty& d : dirty) {
    d.group->dirty = false;
    step(*d.rule, *d.node, *d.group, now_ms, out);
  }
  return out;
}

std::vector<ActiveAlert> AlertEvaluator::active() const {
  std::vector<ActiveAlert> out;
  for (const auto& rs : rules_)
    for (const auto& [node, g] : rs.groups) {
      if (g.state == Group::State::kInactive) continue;
      out.push_back({rs.rule.id, rs.rule.name, node,
                     g.state == Group::State::kFiring ? "firing" : "pending", g.severity, g.value,
                     g.since_ms, g.changed_ms});
    }
  return out;
}

}  // namespace metricsd
