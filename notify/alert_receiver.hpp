// Alert receivers: where notifications go and which ones each takes. A receiver is a
// webhook (a URL, extra headers, an optional HMAC-SHA256 secret, a timeout) or e-mail (a
// list of addresses, sent through the daemon's alerts.smtp_* settings), with filters on
// severity, rule and node and a retry budget. Parsed from the JSON the API takes, checked
// field by field (AlertRuleError names the field).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/alert_eval.hpp"

namespace metricsd::notify {

// What a GET shows in place of a secret or a header value.
inline constexpr const char* kHiddenValue = "(hidden)";

struct AlertReceiver {
  int64_t id = 0;
  std::string name;
  enum class Kind { kWebhook, kEmail } kind = Kind::kWebhook;
  // webhook
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string secret;  // signs the body (X-Metricsd-Signature) when not empty
  int64_t timeout_ms = 5000;
  // email
  std::vector<std::string> to;
  // What it takes; empty lists take everything.
  std::vector<std::string> severities;
  std::vector<std::string> rules;  // globs over the rule's name
  std::vector<std::string> nodes;  // globs over the node id
  bool send_resolved = true;
  int max_attempts = 5;  // tries of one notification (retries back off with jitter)

  // firing, escalated and resolved (when send_resolved) of a matching alert.
  bool wants(const AlertTransition& t) const;
};

// Throws AlertRuleError (field, message). `email_configured`: whether alerts.smtp_url is
// set (an email receiver without it is refused).
AlertReceiver parse_alert_receiver(const nlohmann::json& j, bool email_configured);
// As stored (`reveal`) or as shown (secret and header values replaced by kHiddenValue).
nlohmann::json alert_receiver_json(const AlertReceiver& r, bool reveal);
// A changed receiver given back with kHiddenValue where it was shown hidden: those values
// are taken from `old`.
void keep_hidden_values(AlertReceiver& r, const AlertReceiver& old);

}  // namespace metricsd::notify
