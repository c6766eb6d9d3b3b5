// Alerts: GET /api/v1/alerts (the alerts pending or firing now), GET /api/v1/alerts/history,
// and the rules: GET /api/v1/alerts/rules (viewer), POST, PUT /{id} and DELETE /{id}
// (operator; audited with the old and new versions). A rule is checked field by field
// before it is stored (core/alert_rule: a 400 names the field); the evaluator
// (server/alert_service) is told of every change.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>

#include "api/http_types.hpp"
#include "storage/database.hpp"

namespace metricsd::api {

class AlertHandlers {
 public:
  AlertHandlers(storage::Database& db, std::function<void()> on_rules_changed)
      : db_(db), on_rules_changed_(std::move(on_rules_changed)) {}

  boost::asio::awaitable<Response> active(Request& req);
  boost::asio::awaitable<Response> history(Request& req);
  boost::asio::awaitable<Response> rules(Request& req);
  boost::asio::awaitable<Response> create_rule(Request& req);
  boost::asio::awaitable<Response> update_rule(Request& req);
  boost::asio::awaitable<Response> delete_rule(Request& req);

 private:
  storage::Database& db_;
  std::function<void()> on_rules_changed_;
};

}  // namespace metricsd::api
