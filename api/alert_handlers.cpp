// Alert endpoints; see alert_handlers.hpp.
#include "api/alert_handlers.hpp"

#include <charconv>
#include <cmath>

#include "api/json_body.hpp"
#include "api/query_params.hpp"
#include "core/alert_rule.hpp"
#include "core/names.hpp"
#include "core/time_parse.hpp"
#include "storage/alert_store.hpp"

namespace metricsd::api {
namespace {

using nlohmann::json;

constexpr int kMaxRules = 10'000;

void require_ready(storage::Database& db) {
  if (!db.ready()) throw ApiError::unavailable(db.not_ready_reason(), 2);
}

json value_json(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

json rule_row_json(const storage::AlertRuleRow& r) {
  json j = json::parse(r.spec_json);
  j["id"] = r.id;
  j["name"] = r.name;
  j["enabled"] = r.enabled;
  j["version"] = r.version;
  j["updated_at"] = format_rfc3339_ms(r.updated_ms);
  j["updated_by"] = r.updated_by;
  return j;
}

int64_t id_param(const Request& req) {
  std::string_view text = req.path_param("id");
  int64_t id = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || p != text.data() + text.size() || id <= 0)
    throw bad_param("id", "must be a rule id (a positive integer)");
  return id;
}

// The rule from the body, checked; its spec as stored (normalized, without id) and whether
// it is enabled.
struct RuleBody {
  AlertRule rule;
  std::string spec_json;
  bool enabled = true;
};
RuleBody rule_body(const Request& req) {
  json body = json_object_body(req, {"id", "name", "kind", "metric", "category", "node", "labels",
                                     "agg", "window", "direction", "levels", "clear", "for",
                                     "keep_firing_for", "severity", "statuses", "enabled"});
  RuleBody out;
  if (body.contains("enabled")) {
    if (!body["enabled"].is_boolean()) throw bad_param("enabled", "must be true or false");
    out.enabled = body["enabled"].get<bool>();
    body.erase("enabled");
  }
  if (body.contains("id")) throw bad_param("id", "set by the server");
  try {
    out.rule = parse_alert_rule(body);
  } catch (const AlertRuleError& e) {
    throw bad_param(e.field, e.message);
  }
  out.spec_json = alert_rule_json(out.rule).dump();
  return out;
}

}  // namespace

boost::asio::awaitable<Response> AlertHandlers::active(Request& req) {
  only_params(req, {});
  require_ready(db_);
  auto rows =
      co_await db_.pool().run([](pqxx::connection& c) { return storage::load_active_alerts(c); });
  json out = json::array();
  for (const auto& a : rows)
    out.push_back({{"rule_id", a.rule_id},
                   {"rule", a.rule},
                   {"node", a.node},
                   {"state", a.state},
                   {"severity", a.severity},
                   {"value", value_json(a.value)},
                   {"since", format_rfc3339_ms(a.since_ms)},
                   {"changed_at", format_rfc3339_ms(a.changed_ms)}});
  co_return json_response(200, {{"alerts", out}});
}

boost::asio::awaitable<Response> AlertHandlers::history(Request& req) {
  only_params(req, {"rule_id", "node", "limit", "cursor"});
  int64_t rule = int_param(req, "rule_id", 0, 1, INT64_MAX);
  std::string node;
  if (auto n = req.query_param("node")) {
    if (!valid_node_id(*n)) throw bad_param("node", "not a valid node id");
    node = std::string(*n);
  }
  int limit = static_cast<int>(int_param(req, "limit", 100, 1, 1000));
  int64_t before = int_param(req, "cursor", 0, 1, INT64_MAX);
  require_ready(db_);
  auto rows = co_await db_.pool().run([&](pqxx::connection& c) {
    return storage::list_alert_history(c, rule, node, before, limit);
  });
  json out = json::array();
  for (const auto& h : rows)
    out.push_back({{"id", h.id},
                   {"ts", format_rfc3339_ms(h.t.ts_ms)},
                   {"rule_id", h.t.rule_id ? json(h.t.rule_id) : json(nullptr)},
                   {"rule", h.t.rule},
                   {"node", h.t.node},
                   {"event", h.t.event},
                   {"severity", h.t.severity},
                   {"value", value_json(h.t.value)}});
  json next = rows.size() == static_cast<size_t>(limit) ? json(std::to_string(rows.back().id))
                                                        : json(nullptr);
  co_return json_response(200, {{"history", out}, {"next_cursor", next}});
}

boost::asio::awaitable<Response> AlertHandlers::rules(Request& req) {
  only_params(req, {});
  require_ready(db_);
  auto rows =
      co_await db_.pool().run([](pqxx::connection& c) { return storage::list_alert_rules(c); });
  json out = json::array();
  for (const auto& r : rows)
    out.push_back(rule_row_json(r));
  co_return json_response(200, {{"rules", out}});
}

boost::asio::awaitable<Response> AlertHandlers::create_rule(Request& req) {
  only_params(req, {});
  RuleBody b = rule_body(req);
  require_ready(db_);
  auto audit = audit_entry(req, "alert_rule.create");
  auto row = co_await db_.pool().run([&](pqxx::connection& c) {
    if (storage::list_alert_rules(c).size() >= kMaxRules)
      throw ApiError(409, "conflict", "at most " + std::to_string(kMaxRules) + " alert rules");
    return storage::create_alert_rule(c, b.rule.name, b.spec_json, b.enabled, audit);
  });
  if (!row) throw ApiError(409, "conflict", "an alert rule named " + b.rule.name + " exists");
  on_rules_changed_();
  co_return json_response(201, rule_row_json(*row));
}

boost::asio::awaitable<Response> AlertHandlers::update_rule(Request& req) {
  only_params(req, {});
  int64_t id = id_param(req);
  RuleBody b = rule_body(req);
  require_ready(db_);
  auto audit = audit_entry(req, "alert_rule.update");
  storage::AlertRuleRow row;
  auto result = co_await db_.pool().run([&](pqxx::connection& c) {
    return storage::update_alert_rule(c, id, b.rule.name, b.spec_json, b.enabled, audit, &row);
  });
  if (result == storage::RuleChange::kNotFound)
    throw ApiError::not_found("no alert rule " + std::to_string(id));
  if (result == storage::RuleChange::kNameTaken)
    throw ApiError(409, "conflict", "another alert rule is named " + b.rule.name);
  on_rules_changed_();
  co_return json_response(200, rule_row_json(row));
}

boost::asio::awaitable<Response> AlertHandlers::delete_rule(Request& req) {
  only_params(req, {});
  int64_t id = id_param(req);
  require_ready(db_);
  auto audit = audit_entry(req, "alert_rule.delete");
  bool deleted = co_await db_.pool().run(
      [&](pqxx::connection& c) { return storage::delete_alert_rule(c, id, audit); });
  if (!deleted) throw ApiError::not_found("no alert rule " + std::to_string(id));
  on_rules_changed_();
  co_return json_response(200, {{"id", id}, {"deleted", true}});
}

}  // namespace metricsd::api
