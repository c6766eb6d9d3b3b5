// Alert silences; see alert_silence.hpp.
#include "core/alert_silence.hpp"

#include "core/alert_rule.hpp"
#include "core/series_filter.hpp"
#include "core/settings.hpp"
#include "core/time_parse.hpp"

namespace metricsd {
namespace {

using nlohmann::json;

constexpr int64_t kMaxSilenceMs = 90LL * 24 * 3'600'000;

std::optional<std::string> matcher(const json& m, const char* field) {
  if (!m.contains(field)) return std::nullopt;
  const std::string name = std::string("matchers.") + field;
  if (!m[field].is_string()) throw AlertRuleError(name, "must be a string");
  std::string v = m[field].get<std::string>();
  if (v.empty() || v.size() > 128) throw AlertRuleError(name, "must be 1 to 128 characters");
  return v;
}

int64_t time_field(const json& j, const char* field) {
  std::optional<int64_t> ms;
  if (j[field].is_string()) ms = parse_rfc3339_ms(j[field].get<std::string>());
  if (!ms) throw AlertRuleError(field, "must be an RFC 3339 time such as 2026-12-04T18:00:00Z");
  return *ms;
}

}  // namespace

bool AlertSilence::matches(const AlertTransition& t, int64_t now_ms) const {
  if (!active(now_ms)) return false;
  if (rule && !glob_match(*rule, t.rule)) return false;
  if (node && !glob_match(*node, t.node)) return false;
  if (severity && *severity != t.severity) return false;
  return true;
}

AlertSilence parse_alert_silence(const json& j, int64_t now_ms) {
  if (!j.is_object()) throw AlertRuleError("silence", "must be a JSON object");
  for (const auto& [k, v] : j.items())
    if (k != "matchers" && k != "starts_at" && k != "ends_at" && k != "duration" && k != "comment")
      throw AlertRuleError(k, "not a field of a silence");
  AlertSilence s;
  if (!j.contains("matchers") || !j["matchers"].is_object())
    throw AlertRuleError("matchers", "required: an object with rule, node and/or severity");
  const json& m = j["matchers"];
  for (const auto& [k, v] : m.items())
    if (k != "rule" && k != "node" && k != "severity")
      throw AlertRuleError("matchers." + k, "not a matcher (rule, node or severity)");
  s.rule = matcher(m, "rule");
  s.node = matcher(m, "node");
  s.severity = matcher(m, "severity");
  if (!s.rule && !s.node && !s.severity)
    throw AlertRuleError("matchers", "give at least one of rule, node and severity");
  if (s.severity && severity_rank(*s.severity) < 0)
    throw AlertRuleError("matchers.severity", "must be info, warning or critical");
  s.starts_ms = j.contains("starts_at") ? time_field(j, "starts_at") : now_ms;
  if (j.contains("ends_at") == j.contains("duration"))
    throw AlertRuleError("ends_at", "give ends_at (a time) or duration (such as \"2h\")");
  if (j.contains("ends_at")) {
    s.ends_ms = time_field(j, "ends_at");
  } else {
    std::optional<int64_t> d;
    if (j["duration"].is_string()) d = parse_duration_ms(j["duration"].get<std::string>());
    if (!d || *d <= 0) throw AlertRuleError("duration", "must be a duration such as \"2h\"");
    s.ends_ms = s.starts_ms + *d;
  }
  const char* end_field = j.contains("ends_at") ? "ends_at" : "duration";
  if (s.ends_ms <= s.starts_ms) throw AlertRuleError(end_field, "must end after it starts");
  if (s.ends_ms <= now_ms) throw AlertRuleError(end_field, "must end in the future");
  if (s.ends_ms - s.starts_ms > kMaxSilenceMs) throw AlertRuleError(end_field, "at most 90 days");
  if (j.contains("comment")) {
    if (!j["comment"].is_string()) throw AlertRuleError("comment", "must be a string");
    s.comment = j["comment"].get<std::string>();
    if (s.comment.size() > 1024) throw AlertRuleError("comment", "at most 1024 characters");
  }
  return s;
}

json alert_silence_matchers_json(const AlertSilence& s) {
  json m = json::object();
  if (s.rule) m["rule"] = *s.rule;
  if (s.node) m["node"] = *s.node;
  if (s.severity) m["severity"] = *s.severity;
  return m;
}

}  // namespace metricsd
