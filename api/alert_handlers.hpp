// Alerts: GET /api/v1/alerts (the alerts pending or firing now), POST /api/v1/alerts/ack,
// GET /api/v1/alerts/history; the rules (GET viewer; POST, PUT /{id}, DELETE /{id}
// operator), the silences (GET viewer; POST, DELETE /{id} operator) and the receivers
// (admin: they hold URLs and secrets). Every change is audited (rules and receivers with
// their old and new versions, secrets hidden). A rule, silence or receiver is checked
// field by field before it is stored (a 400 names the field); the alert service
// (server/alert_service) is told of every change. alert_handlers.cpp holds the alerts and
// rules, alert_notify_handlers.cpp the receivers and silences.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <string>

#include "api/http_types.hpp"
#include "storage/database.hpp"
#include "storage/series_registry.hpp"

namespace metricsd::api {

struct AlertHooks {
  std::function<void()> changed;  // rules, receivers or silences changed
  std::function<void(int64_t rule_id, const std::string& node, const std::string& by)> acknowledged;
  bool email_configured = false;  // alerts.smtp_url is set
};

class AlertHandlers {
 public:
  AlertHandlers(storage::Database& db, const storage::SeriesRegistry& registry, AlertHooks hooks)
      : db_(db), registry_(registry), hooks_(std::move(hooks)) {}

  boost::asio::awaitable<Response> active(Request& req);
  boost::asio::awaitable<Response> acknowledge(Request& req);
  boost::asio::awaitable<Response> history(Request& req);
  boost::asio::awaitable<Response> rules(Request& req);
  boost::asio::awaitable<Response> create_rule(Request& req);
  boost::asio::awaitable<Response> update_rule(Request& req);
  boost::asio::awaitable<Response> delete_rule(Request& req);
  boost::asio::awaitable<Response> receivers(Request& req);
  boost::asio::awaitable<Response> create_receiver(Request& req);
  boost::asio::awaitable<Response> update_receiver(Request& req);
  boost::asio::awaitable<Response> delete_receiver(Request& req);
  boost::asio::awaitable<Response> silences(Request& req);
  boost::asio::awaitable<Response> create_silence(Request& req);
  boost::asio::awaitable<Response> expire_silence(Request& req);

 private:
  storage::Database& db_;
  const storage::SeriesRegistry& registry_;
  AlertHooks hooks_;
};

// Shared by the two files.
void require_alerts_ready(storage::Database& db);
int64_t alert_id_param(const Request& req, const char* what);

}  // namespace metricsd::api
