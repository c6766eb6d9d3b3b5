// What a notification says: the webhook's JSON body (README "Alerts" documents it) and the
// e-mail's subject and text, from one alert transition. Pure logic.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "core/alert_eval.hpp"

namespace metricsd::notify {

using metricsd::AlertNotification;  // core/alert_eval.hpp

// An alert as GET /api/v1/alerts and the stream's snapshot show it.
nlohmann::json active_alert_json(const ActiveAlert& a);
// A transition as the stream's `alert` message carries it.
nlohmann::json alert_event_json(const AlertTransition& t);

std::string webhook_body(const AlertNotification& n);
// "[metricsd] CRITICAL firing: gpu hot on gpu-07 (84.5)"
std::string email_subject(const AlertNotification& n);
std::string email_body(const AlertNotification& n);

}  // namespace metricsd::notify
