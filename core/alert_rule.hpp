// Alert rules: what a rule selects and when it fires, parsed from the JSON the API and the
// rules file take and checked field by field (an error names the field). Four kinds:
//   threshold  an aggregate (last, avg, min, max) of each selected series over a window,
//              against levels of rising severity (above, or below), with a separate clear
//              level (hysteresis);
//   cliff      the aggregate over the last window against the one before it, as a percent
//              drop (or rise), against levels;
//   absence    a node that sent the selection sends nothing of it for `for`;
//   node_loss  a node is stale or offline.
// Pure logic; see core/alert_eval.hpp for the evaluation.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/series_filter.hpp"

namespace metricsd {

enum class AlertKind { kThreshold, kCliff, kAbsence, kNodeLoss };
enum class AlertAgg { kLast, kAvg, kMin, kMax };

// Severities, least first; a rule's levels use these names.
inline constexpr const char* kAlertSeverities[] = {"info", "warning", "critical"};
int severity_rank(std::string_view severity);  // 0.. for the names above, -1 otherwise

struct AlertLevel {
  std::string severity;
  double value = 0;  // threshold: the value; cliff: the percent change
};

struct AlertRule {
  int64_t id = 0;
  std::string name;
  AlertKind kind = AlertKind::kThreshold;
  SeriesFilter select;                     // threshold, cliff, absence; node_loss: node only
  std::vector<std::string> node_statuses;  // node_loss: stale and/or offline
  AlertAgg agg = AlertAgg::kLast;
  int64_t window_ms = 0;  // threshold (0: the last sample), cliff (each of the two windows)
  bool below = false;     // threshold: fires at or below the levels; cliff: a rise, not a drop
  std::vector<AlertLevel> levels;  // least severe first (by severity)
  double clear = 0;                // threshold, cliff: the condition ends past this
  int64_t for_ms = 0;              // pending this long before firing; absence: the silence
  int64_t keep_firing_for_ms = 0;  // firing this long after the condition ended
  std::string severity;            // absence, node_loss: the one severity
  // Every kind: the nodes' own type (a glob) and labels (equalities) as their heartbeats
  // registered them; a node not yet registered matches neither.
  std::optional<std::string> node_type;
  std::vector<std::pair<std::string, std::string>> node_labels;
  // Notifications: a group that fires again within this of its last notified firing is
  // recorded but not notified (escalations always are).
  int64_t cooldown_ms = 300'000;
  std::string description;  // free text, sent with every notification
};

// A rule that cannot be evaluated; `field` is the JSON field at fault.
struct AlertRuleError : std::invalid_argument {
  AlertRuleError(std::string f, std::string m)
      : std::invalid_argument(f + ": " + m), field(std::move(f)), message(std::move(m)) {}
  std::string field;
  std::string message;  // without the field
};

// From the rule's JSON (README "Alerts" shows every field). Throws AlertRuleError.
AlertRule parse_alert_rule(const nlohmann::json& j);
// The rule as JSON, in the form parse_alert_rule reads (id included when set).
nlohmann::json alert_rule_json(const AlertRule& r);

const char* to_string(AlertKind k);
const char* to_string(AlertAgg a);

}  // namespace metricsd

namespace metricsd {

// A rules file: one rule (a JSON object) per line; blank lines and lines starting with '#'
// are skipped. Throws std::runtime_error naming the line ("line 3: levels: required ...")
// for a line that is not a rule, or a name used twice.
std::vector<AlertRule> parse_alert_rules_text(std::string_view text);

}  // namespace metricsd
