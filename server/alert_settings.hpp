// The alerts.* settings as the alert service takes them, checked: the SMTP URL parses and
// the rules file reads and holds only valid rules. Throws SettingsError naming the setting
// (the daemon refuses to start, exit code 2).
#pragma once

#include <string>

#include "core/settings.hpp"
#include "server/alert_service.hpp"

namespace metricsd::server {

AlertServiceOptions alert_service_options(const Settings& s, std::string conninfo);

}  // namespace metricsd::server
