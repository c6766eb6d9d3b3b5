// Alert settings; see alert_settings.hpp.
#include "server/alert_settings.hpp"

#include <fstream>
#include <sstream>

#include "core/alert_rule.hpp"

namespace metricsd::server {

AlertServiceOptions alert_service_options(const Settings& s, std::string conninfo) {
  AlertServiceOptions o;
  o.conninfo = std::move(conninfo);
  o.rules_file = s.alerts_rules_file;
  if (!s.alerts_smtp_url.empty()) {
    notify::EmailSettings e;
    try {
      e.server = notify::parse_smtp_url(s.alerts_smtp_url);
    } catch (const std::invalid_argument& err) {
      throw SettingsError(std::string("setting alerts.smtp_url: ") + err.what());
    }
    e.server.username = s.alerts_smtp_username;
    e.server.password = s.alerts_smtp_password;
    e.from = s.alerts_smtp_from;
    o.email = std::move(e);
  } else if (!s.alerts_smtp_username.empty()) {
    throw SettingsError("setting alerts.smtp_username: set alerts.smtp_url too");
  }
  if (!o.rules_file.empty()) {
    std::ifstream in(o.rules_file);
    if (!in) throw SettingsError("setting alerts.rules_file: cannot read " + o.rules_file);
    std::stringstream text;
    text << in.rdbuf();
    try {
      parse_alert_rules_text(text.str());
    } catch (const std::exception& err) {
      throw SettingsError("setting alerts.rules_file: " + o.rules_file + ": " + err.what());
    }
  }
  return o;
}

}  // namespace metricsd::server
