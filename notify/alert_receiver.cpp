// Alert receivers; see alert_receiver.hpp.
#include "notify/alert_receiver.hpp"

#include <algorithm>
#include <set>

#include "core/alert_rule.hpp"
#include "core/series_filter.hpp"
#include "core/settings.hpp"
#include "notify/http_post.hpp"

namespace metricsd::notify {
namespace {

using nlohmann::json;

const std::set<std::string> kFields = {
    "name", "kind",       "url",   "headers", "secret",        "timeout",
    "to",   "severities", "rules", "nodes",   "send_resolved", "max_attempts"};

std::vector<std::string> strings(const json& j, const char* field, size_t max) {
  std::vector<std::string> out;
  if (!j.contains(field)) return out;
  if (!j[field].is_array() || j[field].size() > max)
    throw AlertRuleError(field, "must be a list of at most " + std::to_string(max) + " strings");
  for (const auto& v : j[field]) {
    if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().size() > 256)
      throw AlertRuleError(field, "must be a list of strings of 1 to 256 characters");
    out.push_back(v.get<std::string>());
  }
  return out;
}

bool valid_address(const std::string& a) {
  auto at = a.find('@');
  return at != std::string::npos && at > 0 && at + 1 < a.size() && a.find('@', at + 1) == a.npos &&
         a.find_first_of(" \t\r\n<>,;\"") == std::string::npos;
}

}  // namespace

bool AlertReceiver::wants(const AlertTransition& t) const {
  if (t.event != "firing" && t.event != "escalated" && t.event != "resolved") return false;
  if (t.event == "resolved" && !send_resolved) return false;
  if (!severities.empty() &&
      std::find(severities.begin(), severities.end(), t.severity) == severities.end())
    return false;
  auto any = [](const std::vector<std::string>& globs, const std::string& text) {
    return globs.empty() || std::any_of(globs.begin(), globs.end(),
                                        [&](const std::string& g) { return glob_match(g, text); });
  };
  return any(rules, t.rule) && any(nodes, t.node);
}

AlertReceiver parse_alert_receiver(const json& j, bool email_configured) {
  if (!j.is_object()) throw AlertRuleError("receiver", "must be a JSON object");
  for (const auto& [k, v] : j.items())
    if (!kFields.count(k)) throw AlertRuleError(k, "not a field of a receiver");
  AlertReceiver r;
  if (!j.contains("name") || !j["name"].is_string() || j["name"].get<std::string>().empty() ||
      j["name"].get<std::string>().size() > 128)
    throw AlertRuleError("name", "required: 1 to 128 characters");
  r.name = j["name"].get<std::string>();
  std::string kind =
      j.contains("kind") && j["kind"].is_string() ? j["kind"].get<std::string>() : "";
  auto only = [&](std::initializer_list<const char*> fields, const char* for_kind) {
    for (const char* f : fields)
      if (j.contains(f))
        throw AlertRuleError(f, std::string("not a field of a ") + for_kind + " receiver");
  };
  if (kind == "webhook") {
    r.kind = AlertReceiver::Kind::kWebhook;
    only({"to"}, "webhook");
    if (!j.contains("url") || !j["url"].is_string()) throw AlertRuleError("url", "required");
    r.url = j["url"].get<std::string>();
    try {
      validate_webhook_url(r.url);
    } catch (const std::invalid_argument& e) {
      throw AlertRuleError("url", e.what());
    }
    if (j.contains("headers")) {
      if (!j["headers"].is_object() || j["headers"].size() > 32)
        throw AlertRuleError("headers", "must be an object of at most 32 strings");
      for (const auto& [k, v] : j["headers"].items()) {
        if (!v.is_string()) throw AlertRuleError("headers." + k, "must be a string");
        try {
          validate_webhook_header(k, v.get<std::string>());
        } catch (const std::invalid_argument& e) {
          throw AlertRuleError("headers." + k, e.what());
        }
        r.headers.emplace_back(k, v.get<std::string>());
      }
    }
    if (j.contains("secret")) {
      if (!j["secret"].is_string() || j["secret"].get<std::string>().size() > 256)
        throw AlertRuleError("secret", "must be a string of at most 256 characters");
      r.secret = j["secret"].get<std::string>();
    }
    if (j.contains("timeout")) {
      std::optional<int64_t> ms;
      if (j["timeout"].is_string()) ms = parse_duration_ms(j["timeout"].get<std::string>());
      if (!ms || *ms < 100 || *ms > 60'000)
        throw AlertRuleError("timeout", "must be a duration between 100ms and 60s");
      r.timeout_ms = *ms;
    }
  } else if (kind == "email") {
    r.kind = AlertReceiver::Kind::kEmail;
    only({"url", "headers", "secret", "timeout"}, "email");
    if (!email_configured)
      throw AlertRuleError("kind", "email needs the alerts.smtp_url setting (the mail server)");
    r.to = strings(j, "to", 32);
    if (r.to.empty()) throw AlertRuleError("to", "required: a list of e-mail addresses");
    for (const auto& a : r.to)
      if (!valid_address(a)) throw AlertRuleError("to", "not an e-mail address: " + a);
  } else {
    throw AlertRuleError("kind", "must be webhook or email");
  }
  r.severities = strings(j, "severities", 3);
  for (const auto& s : r.severities)
    if (severity_rank(s) < 0)
      throw AlertRuleError("severities", "must list info, warning and/or critical");
  r.rules = strings(j, "rules", 64);
  r.nodes = strings(j, "nodes", 64);
  if (j.contains("send_resolved")) {
    if (!j["send_resolved"].is_boolean())
      throw AlertRuleError("send_resolved", "must be true or false");
    r.send_resolved = j["send_resolved"].get<bool>();
  }
  if (j.contains("max_attempts")) {
    if (!j["max_attempts"].is_number_integer() || j["max_attempts"].get<int64_t>() < 1 ||
        j["max_attempts"].get<int64_t>() > 20)
      throw AlertRuleError("max_attempts", "must be an integer from 1 to 20");
    r.max_attempts = j["max_attempts"].get<int>();
  }
  return r;
}

json alert_receiver_json(const AlertReceiver& r, bool reveal) {
  json j;
  j["name"] = r.name;
  if (r.kind == AlertReceiver::Kind::kWebhook) {
    j["kind"] = "webhook";
    j["url"] = r.url;
    j["headers"] = json::object();
    for (const auto& [k, v] : r.headers)
      j["headers"][k] = reveal ? v : kHiddenValue;
    if (!r.secret.empty()) j["secret"] = reveal ? r.secret : kHiddenValue;
    j["timeout"] = std::to_string(r.timeout_ms) + "ms";
  } else {
    j["kind"] = "email";
    j["to"] = r.to;
  }
  j["severities"] = r.severities;
  j["rules"] = r.rules;
  j["nodes"] = r.nodes;
  j["send_resolved"] = r.send_resolved;
  j["max_attempts"] = r.max_attempts;
  return j;
}

void keep_hidden_values(AlertReceiver& r, const AlertReceiver& old) {
  if (r.secret == kHiddenValue) r.secret = old.secret;
  for (auto& [k, v] : r.headers) {
    if (v != kHiddenValue) continue;
    for (const auto& [ok, ov] : old.headers)
      if (ok == k) v = ov;
  }
}

}  // namespace metricsd::notify
