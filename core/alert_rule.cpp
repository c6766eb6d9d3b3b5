// Alert rules; see alert_rule.hpp.
#include "core/alert_rule.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/names.hpp"
#include "core/settings.hpp"

namespace metricsd {
namespace {

using nlohmann::json;

const std::set<std::string> kFields[] = {
    // threshold
    {"id", "name", "kind", "metric", "category", "node", "labels", "agg", "window", "direction",
     "levels", "clear", "for", "keep_firing_for", "node_type", "node_labels", "cooldown",
     "description"},
    // cliff
    {"id", "name", "kind", "metric", "category", "node", "labels", "agg", "window", "direction",
     "levels", "clear", "for", "keep_firing_for", "node_type", "node_labels", "cooldown",
     "description"},
    // absence
    {"id", "name", "kind", "metric", "category", "node", "labels", "for", "severity", "node_type",
     "node_labels", "cooldown", "description"},
    // node_loss
    {"id", "name", "kind", "node", "statuses", "for", "keep_firing_for", "severity", "node_type",
     "node_labels", "cooldown", "description"},
};

std::string text(const json& j, const char* field, bool required) {
  if (!j.contains(field)) {
    if (required) throw AlertRuleError(field, "required");
    return {};
  }
  if (!j[field].is_string()) throw AlertRuleError(field, "must be a string");
  return j[field].get<std::string>();
}

int64_t duration(const json& j, const char* field, int64_t max_ms) {
  if (!j.contains(field)) return 0;
  std::optional<int64_t> ms;
  if (j[field].is_string()) ms = parse_duration_ms(j[field].get<std::string>());
  if (!ms) throw AlertRuleError(field, "must be a duration such as \"5m\" or \"30s\"");
  if (*ms < 0 || *ms > max_ms)
    throw AlertRuleError(field,
                         "must be between 0 and " + std::to_string(max_ms / 3'600'000) + "h");
  return *ms;
}

double number(const json& v, const std::string& field) {
  if (!v.is_number()) throw AlertRuleError(field, "must be a number");
  double d = v.get<double>();
  if (!std::isfinite(d)) throw AlertRuleError(field, "must be finite");
  return d;
}

std::string severity(const json& j) {
  std::string s = j.contains("severity") ? text(j, "severity", true) : "critical";
  if (severity_rank(s) < 0) throw AlertRuleError("severity", "must be info, warning or critical");
  return s;
}

constexpr int64_t kMaxWindowMs = 24 * 3'600'000;

// An object of strings, sorted by key; empty when absent.
std::vector<std::pair<std::string, std::string>> string_map(const json& j, const char* field) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!j.contains(field)) return out;
  if (!j[field].is_object()) throw AlertRuleError(field, "must be an object of strings");
  for (const auto& [k, v] : j[field].items()) {
    if (!v.is_string()) throw AlertRuleError(std::string(field) + "." + k, "must be a string");
    out.emplace_back(k, v.get<std::string>());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

int severity_rank(std::string_view severity) {
  for (size_t i = 0; i < std::size(kAlertSeverities); ++i)
    if (severity == kAlertSeverities[i]) return static_cast<int>(i);
  return -1;
}

const char* to_string(AlertKind k) {
  switch (k) {
    case AlertKind::kThreshold:
      return "threshold";
    case AlertKind::kCliff:
      return "cliff";
    case AlertKind::kAbsence:
      return "absence";
    case AlertKind::kNodeLoss:
      return "node_loss";
  }
  return "threshold";
}

const char* to_string(AlertAgg a) {
  switch (a) {
    case AlertAgg::kLast:
      return "last";
    case AlertAgg::kAvg:
      return "avg";
    case AlertAgg::kMin:
      return "min";
    case AlertAgg::kMax:
      return "max";
  }
  return "last";
}

AlertRule parse_alert_rule(const json& j) {
  if (!j.is_object()) throw AlertRuleError("rule", "must be a JSON object");
  AlertRule r;
  r.name = text(j, "name", true);
  if (r.name.empty() || r.name.size() > 128)
    throw AlertRuleError("name", "must be 1 to 128 characters");
  std::string kind = text(j, "kind", true);
  if (kind == "threshold") {
    r.kind = AlertKind::kThreshold;
  } else if (kind == "cliff") {
    r.kind = AlertKind::kCliff;
  } else if (kind == "absence") {
    r.kind = AlertKind::kAbsence;
  } else if (kind == "node_loss") {
    r.kind = AlertKind::kNodeLoss;
  } else {
    throw AlertRuleError("kind", "must be threshold, cliff, absence or node_loss");
  }
  const auto& allowed = kFields[static_cast<int>(r.kind)];
  for (const auto& [k, v] : j.items())
    if (!allowed.count(k))
      throw AlertRuleError(k, std::string("not a field of a ") + kind + " rule");
  if (j.contains("id")) {
    if (!j["id"].is_number_integer()) throw AlertRuleError("id", "must be an integer");
    r.id = j["id"].get<int64_t>();
  }

  // What it selects.
  if (std::string node = text(j, "node", false); !node.empty()) {
    if (!valid_node_id(node) && node.find_first_of("*?") == std::string::npos)
      throw AlertRuleError("node", "not a valid node id");
    r.select.node = node;
  }
  if (r.kind != AlertKind::kNodeLoss) {
    std::string metric = text(j, "metric", false), category = text(j, "category", false);
    if (metric.empty() == category.empty())
      throw AlertRuleError("metric",
                           "give a metric (a name or a glob such as gpu.*) or a category");
    if (metric.find_first_of("*?") != std::string::npos) {
      r.select.glob = metric;
    } else if (!metric.empty()) {
      if (!valid_metric_name(metric)) throw AlertRuleError("metric", "not a valid metric name");
      r.select.metric = metric;
    } else {
      r.select.category = category;
    }
    r.select.labels = string_map(j, "labels");
  }

  if (j.contains("node_type")) {
    std::string type = text(j, "node_type", true);
    if (type.empty() || type.size() > 128)
      throw AlertRuleError("node_type", "must be 1 to 128 characters (a type or a glob)");
    r.node_type = type;
  }
  r.node_labels = string_map(j, "node_labels");
  if (j.contains("cooldown")) r.cooldown_ms = duration(j, "cooldown", kMaxWindowMs);
  r.description = text(j, "description", false);
  if (r.description.size() > 1024) throw AlertRuleError("description", "at most 1024 characters");

  switch (r.kind) {
    case AlertKind::kThreshold:
    case AlertKind::kCliff: {
      std::string agg = j.contains("agg") ? text(j, "agg", true) : "last";
      if (agg == "last") {
        r.agg = AlertAgg::kLast;
      } else if (agg == "avg") {
        r.agg = AlertAgg::kAvg;
      } else if (agg == "min") {
        r.agg = AlertAgg::kMin;
      } else if (agg == "max") {
        r.agg = AlertAgg::kMax;
      } else {
        throw AlertRuleError("agg", "must be last, avg, min or max");
      }
      r.window_ms = duration(j, "window", kMaxWindowMs);
      if (r.kind == AlertKind::kCliff && r.window_ms == 0)
        throw AlertRuleError("window", "a cliff compares two windows: give one such as \"5m\"");
      std::string dir = text(j, "direction", false);
      const bool cliff = r.kind == AlertKind::kCliff;
      if (dir.empty()) dir = cliff ? "drop" : "above";
      if (dir == (cliff ? "drop" : "above")) {
        r.below = false;
      } else if (dir == (cliff ? "rise" : "below")) {
        r.below = true;
      } else {
        throw AlertRuleError("direction",
                             cliff ? "must be drop or rise" : "must be above or below");
      }
      if (!j.contains("levels") || !j["levels"].is_object() || j["levels"].empty())
        throw AlertRuleError("levels",
                             "required: an object of severity to value, e.g. "
                             "{\"warning\": 70, \"critical\": 80}");
      for (const auto& [sev, v] : j["levels"].items()) {
        if (severity_rank(sev) < 0)
          throw AlertRuleError("levels." + sev, "not a severity (info, warning or critical)");
        double value = number(v, "levels." + sev);
        if (cliff && (value <= 0 || value > 1000))
          throw AlertRuleError("levels." + sev, "a percent change between 0 and 1000");
        r.levels.push_back({sev, value});
      }
      std::sort(r.levels.begin(), r.levels.end(), [](const auto& a, const auto& b) {
        return severity_rank(a.severity) < severity_rank(b.severity);
      });
      // A more severe level lies further out: above, higher; below, lower; cliffs, larger.
      const bool lower_is_worse = r.below && !cliff;
      for (size_t i = 1; i < r.levels.size(); ++i) {
        bool ok = lower_is_worse ? r.levels[i].value < r.levels[i - 1].value
                                 : r.levels[i].value > r.levels[i - 1].value;
        if (!ok)
          throw AlertRuleError("levels." + r.levels[i].severity,
                               "must lie beyond the level of " + r.levels[i - 1].severity);
      }
      r.clear = r.levels.front().value;
      if (j.contains("clear")) {
        r.clear = number(j["clear"], "clear");
        bool ok =
            lower_is_worse ? r.clear >= r.levels.front().value : r.clear <= r.levels.front().value;
        if (!ok)
          throw AlertRuleError("clear", "must lie on the quiet side of the least severe level");
      }
      r.for_ms = duration(j, "for", kMaxWindowMs);
      r.keep_firing_for_ms = duration(j, "keep_firing_for", kMaxWindowMs);
      break;
    }
    case AlertKind::kAbsence:
      r.for_ms = duration(j, "for", kMaxWindowMs);
      if (r.for_ms < 1000) throw AlertRuleError("for", "required: at least \"1s\" of silence");
      r.severity = severity(j);
      break;
    case AlertKind::kNodeLoss:
      if (j.contains("statuses")) {
        if (!j["statuses"].is_array() || j["statuses"].empty())
          throw AlertRuleError("statuses", "must be a list of stale and/or offline");
        for (const auto& s : j["statuses"]) {
          if (!s.is_string() || (s != "stale" && s != "offline"))
            throw AlertRuleError("statuses", "must be a list of stale and/or offline");
          r.node_statuses.push_back(s.get<std::string>());
        }
      } else {
        r.node_statuses = {"offline"};
      }
      r.for_ms = duration(j, "for", kMaxWindowMs);
      r.keep_firing_for_ms = duration(j, "keep_firing_for", kMaxWindowMs);
      r.severity = severity(j);
      break;
  }
  return r;
}

json alert_rule_json(const AlertRule& r) {
  json j;
  if (r.id) j["id"] = r.id;
  j["name"] = r.name;
  j["kind"] = to_string(r.kind);
  if (r.select.node) j["node"] = *r.select.node;
  if (r.select.metric) j["metric"] = *r.select.metric;
  if (r.select.glob) j["metric"] = *r.select.glob;
  if (r.select.category) j["category"] = *r.select.category;
  if (!r.select.labels.empty()) {
    j["labels"] = json::object();
    for (const auto& [k, v] : r.select.labels)
      j["labels"][k] = v;
  }
  auto ms = [](int64_t v) { return std::to_string(v) + "ms"; };
  switch (r.kind) {
    case AlertKind::kThreshold:
    case AlertKind::kCliff:
      j["agg"] = to_string(r.agg);
      if (r.window_ms) j["window"] = ms(r.window_ms);
      j["direction"] =
          r.kind == AlertKind::kCliff ? (r.below ? "rise" : "drop") : (r.below ? "below" : "above");
      j["levels"] = json::object();
      for (const auto& l : r.levels)
        j["levels"][l.severity] = l.value;
      j["clear"] = r.clear;
      break;
    case AlertKind::kAbsence:
      j["severity"] = r.severity;
      break;
    case AlertKind::kNodeLoss:
      j["statuses"] = r.node_statuses;
      j["severity"] = r.severity;
      break;
  }
  if (r.for_ms) j["for"] = ms(r.for_ms);
  if (r.keep_firing_for_ms) j["keep_firing_for"] = ms(r.keep_firing_for_ms);
  if (r.node_type) j["node_type"] = *r.node_type;
  if (!r.node_labels.empty()) {
    j["node_labels"] = json::object();
    for (const auto& [k, v] : r.node_labels)
      j["node_labels"][k] = v;
  }
  j["cooldown"] = ms(r.cooldown_ms);
  if (!r.description.empty()) j["description"] = r.description;
  return j;
}

}  // namespace metricsd

namespace metricsd {

std::vector<AlertRule> parse_alert_rules_text(std::string_view text) {
  std::vector<AlertRule> out;
  std::set<std::string> names;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    size_t first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos || line[first] == '#') continue;
    std::string where = "line " + std::to_string(line_no) + ": ";
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) throw std::runtime_error(where + "not JSON");
    try {
      if (j.is_object() && (j.contains("id") || j.contains("enabled")))
        throw AlertRuleError(j.contains("id") ? "id" : "enabled", "not a field of a rules file");
      out.push_back(parse_alert_rule(j));
    } catch (const AlertRuleError& e) {
      throw std::runtime_error(where + e.what());
    }
    if (!names.insert(out.back().name).second)
      throw std::runtime_error(where + "name: " + out.back().name + " is used twice");
  }
  return out;
}

}  // namespace metricsd
