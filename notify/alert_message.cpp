// Notification texts; see alert_message.hpp.
#include "notify/alert_message.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/time_parse.hpp"

namespace metricsd::notify {
namespace {

std::string value_text(double v) {
  return std::isfinite(v) ? fmt::format(" ({:.6g})", v) : "";
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

nlohmann::json value_json(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json active_alert_json(const ActiveAlert& a) {
  return {{"rule_id", a.rule_id},
          {"rule", a.rule},
          {"node", a.node},
          {"state", a.state},
          {"severity", a.severity},
          {"value", value_json(a.value)},
          {"since", format_rfc3339_ms(a.since_ms)},
          {"changed_at", format_rfc3339_ms(a.changed_ms)}};
}

nlohmann::json alert_event_json(const AlertTransition& t) {
  return {{"rule_id", t.rule_id},
          {"rule", t.rule},
          {"node", t.node},
          {"event", t.event},
          {"severity", t.severity},
          {"value", value_json(t.value)},
          {"ts", format_rfc3339_ms(t.ts_ms)}};
}

std::string webhook_body(const AlertNotification& n) {
  nlohmann::json j;
  j["version"] = 1;
  j["id"] = n.id;
  j["event"] = n.t.event;
  j["state"] = n.t.event == "resolved" ? "resolved" : "firing";
  j["rule"] = {{"id", n.t.rule_id}, {"name", n.t.rule}, {"description", n.description}};
  j["node"] = n.t.node;
  j["severity"] = n.t.severity;
  j["value"] = value_json(n.t.value);
  j["ts"] = format_rfc3339_ms(n.t.ts_ms);
  j["summary"] = fmt::format("{} {}: {} on {}{}", upper(n.t.severity), n.t.event, n.t.rule,
                             n.t.node, value_text(n.t.value));
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string email_subject(const AlertNotification& n) {
  return fmt::format("[metricsd] {} {}: {} on {}{}", upper(n.t.severity), n.t.event, n.t.rule,
                     n.t.node, value_text(n.t.value));
}

std::string email_body(const AlertNotification& n) {
  std::string out = fmt::format(
      "Alert {} {} on node {}.\n\n"
      "Severity: {}\n"
      "Value:    {}\n"
      "Time:     {}\n",
      n.t.rule, n.t.event, n.t.node, n.t.severity,
      std::isfinite(n.t.value) ? fmt::format("{:.6g}", n.t.value) : std::string("-"),
      format_rfc3339_ms(n.t.ts_ms));
  if (!n.description.empty()) out += "\n" + n.description + "\n";
  out += fmt::format("\nNotification {} from metricsd.\n", n.id);
  return out;
}

}  // namespace metricsd::notify
