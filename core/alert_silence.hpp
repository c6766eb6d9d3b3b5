// Alert silences: matchers (a rule name or glob, a node id or glob, a severity) with a time
// span. While a silence matches an alert, its notifications are recorded as `silenced`
// and not sent; evaluation and history go on as without it. Pure logic.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "core/alert_eval.hpp"

namespace metricsd {

struct AlertSilence {
  int64_t id = 0;
  std::optional<std::string> rule;      // glob over the rule's name
  std::optional<std::string> node;      // glob over the node id
  std::optional<std::string> severity;  // exact
  int64_t starts_ms = 0, ends_ms = 0;
  std::string comment;
  std::string created_by;

  bool active(int64_t now_ms) const { return starts_ms <= now_ms && now_ms < ends_ms; }
  bool matches(const AlertTransition& t, int64_t now_ms) const;
};

// From a request body: {"matchers": {"rule", "node", "severity"}, "starts_at" (default
// now), "ends_at" or "duration" (one of them), "comment"}. At least one matcher; the span
// ends after it starts, after now, and lasts at most 90 days. Throws AlertRuleError naming
// the field.
AlertSilence parse_alert_silence(const nlohmann::json& j, int64_t now_ms);
nlohmann::json alert_silence_matchers_json(const AlertSilence& s);

}  // namespace metricsd
