// Alert and rule endpoints; see alert_handlers.hpp.
#include "api/alert_handlers.hpp"

#include <charconv>
#include <cmath>

#include "api/json_body.hpp"
#include "api/query_params.hpp"
#include "core/alert_rule.hpp"
#include "core/names.hpp"
#include "core/time_parse.hpp"
#include "notify/alert_message.hpp"
#include "storage/alert_state_store.hpp"
#include "storage/alert_store.hpp"

namespace metricsd::api {
namespace {

using nlohmann::json;
using storage::SpecChange;
using storage::SpecTable;

constexpr int kMaxRules = 10'000;

json value_json(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

json rule_row_json(const storage::SpecRow& r) {
  json j = json::parse(r.spec_json);
  j["id"] = r.id;
  j["name"] = r.name;
  j["enabled"] = r.enabled;
  j["version"] = r.version;
  j["updated_at"] = format_rfc3339_ms(r.updated_ms);
  j["updated_by"] = r.updated_by;
  j["source"] = r.source;
  return j;
}

// The rule from the body, checked; its spec as stored (normalized, without id) and
// whether it is enabled.
struct RuleBody {
  AlertRule rule;
  storage::SpecRow row;
};
RuleBody rule_body(const Request& req) {
  json body = json_object_body(
      req, {"id",       "name",      "kind",        "metric",          "category",
            "node",     "labels",    "agg",         "window",          "direction",
            "levels",   "clear",     "for",         "keep_firing_for", "severity",
            "statuses", "node_type", "node_labels", "cooldown",        "description",
            "enabled"});
  RuleBody out;
  if (body.contains("enabled")) {
    if (!body["enabled"].is_boolean()) throw bad_param("enabled", "must be true or false");
    out.row.enabled = body["enabled"].get<bool>();
    body.erase("enabled");
  }
  if (body.contains("id")) throw bad_param("id", "set by the server");
  try {
    out.rule = parse_alert_rule(body);
  } catch (const AlertRuleError& e) {
    throw bad_param(e.field, e.message);
  }
  out.row.name = out.rule.name;
  out.row.spec_json = alert_rule_json(out.rule).dump();
  return out;
}

// A rule that selects no series yet is stored (its series may come later) and said so.
json with_match_count(json j, const AlertRule& r, const storage::SeriesRegistry& registry) {
  if (r.kind == AlertKind::kNodeLoss) return j;
  size_t n = 0;
  int64_t after = 0;
  while (n < 1000) {
    auto page = registry.select(r.select, after, 1000);
    if (page.empty()) break;
    after = page.back().first;
    n += page.size();
  }
  j["matching_series"] = n;
  if (n == 0) j["warning"] = "the rule selects no series yet";
  return j;
}

[[noreturn]] void refuse_change(SpecChange result, int64_t id, const std::string& name) {
  if (result == SpecChange::kNotFound)
    throw ApiError::not_found("no alert rule " + std::to_string(id));
  if (result == SpecChange::kFromFile)
    throw ApiError(409, "conflict",
                   "alert rule " + std::to_string(id) +
                       " comes from the rules file (alerts.rules_file): change it there");
  throw ApiError(409, "conflict", "another alert rule is named " + name);
}

}  // namespace

void require_alerts_ready(storage::Database& db) {
  if (!db.ready()) throw ApiError::unavailable(db.not_ready_reason(), 2);
}

int64_t alert_id_param(const Request& req, const char* what) {
  std::string_view text = req.path_param("id");
  int64_t id = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || p != text.data() + text.size() || id <= 0)
    throw bad_param("id", std::string("must be ") + what + " id (a positive integer)");
  return id;
}

boost::asio::awaitable<Response> AlertHandlers::active(Request& req) {
  only_params(req, {});
  require_alerts_ready(db_);
  auto rows =
      co_await db_.pool().run([](pqxx::connection& c) { return storage::load_active_alerts(c); });
  json out = json::array();
  for (const auto& r : rows) {
    json j = notify::active_alert_json(r.a);
    j["acknowledged_by"] = r.acknowledged_by.empty() ? json(nullptr) : json(r.acknowledged_by);
    j["acknowledged_at"] =
        r.acknowledged_by.empty() ? json(nullptr) : json(format_rfc3339_ms(r.acknowledged_ms));
    out.push_back(std::move(j));
  }
  co_return json_response(200, {{"alerts", out}});
}

boost::asio::awaitable<Response> AlertHandlers::acknowledge(Request& req) {
  only_params(req, {});
  json body = json_object_body(req, {"rule_id", "node", "comment"});
  if (!body.contains("rule_id") || !body["rule_id"].is_number_integer() ||
      body["rule_id"].get<int64_t>() <= 0)
    throw bad_param("rule_id", "required: the alert's rule id");
  int64_t rule_id = body["rule_id"].get<int64_t>();
  std::string node = string_field(body, "node", "", 1, 256);
  if (!valid_node_id(node)) throw bad_param("node", "required: the alert's node id");
  std::string comment = string_field(body, "comment", "", 0, 1024);
  require_alerts_ready(db_);
  auto audit = audit_entry(req, "alert.acknowledge");
  std::string by = audit.token_name;
  bool found = co_await db_.pool().run([&](pqxx::connection& c) {
    bool ok = storage::acknowledge_alert(c, rule_id, node, by, comment);
    if (ok) {
      audit.target = "alert " + std::to_string(rule_id) + " " + node;
      audit.details_json = json{{"comment", comment}}.dump();
      pqxx::work tx(c);
      storage::insert_audit(tx, audit);
      tx.commit();
    }
    return ok;
  });
  if (!found)
    throw ApiError::not_found("rule " + std::to_string(rule_id) + " has no alert on node " + node);
  hooks_.acknowledged(rule_id, node, by);
  co_return json_response(
      200, {{"rule_id", rule_id}, {"node", node}, {"acknowledged_by", by}, {"comment", comment}});
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
  require_alerts_ready(db_);
  auto rows = co_await db_.pool().run([&](pqxx::connection& c) {
    return storage::list_alert_history(c, rule, node, before, limit);
  });
  json out = json::array();
  for (const auto& h : rows) {
    json notes = json::array();
    for (const auto& n : h.notifications)
      notes.push_back(
          {{"receiver", n.receiver},
           {"state", n.state},
           {"attempts", n.attempts},
           {"detail", n.detail},
           {"done_at", n.done_ms ? json(format_rfc3339_ms(n.done_ms)) : json(nullptr)}});
    out.push_back({{"id", h.id},
                   {"ts", format_rfc3339_ms(h.t.ts_ms)},
                   {"rule_id", h.t.rule_id ? json(h.t.rule_id) : json(nullptr)},
                   {"rule", h.t.rule},
                   {"node", h.t.node},
                   {"event", h.t.event},
                   {"severity", h.t.severity},
                   {"value", value_json(h.t.value)},
                   {"detail", h.detail},
                   {"notifications", notes}});
  }
  json next = rows.size() == static_cast<size_t>(limit) ? json(std::to_string(rows.back().id))
                                                        : json(nullptr);
  co_return json_response(200, {{"history", out}, {"next_cursor", next}});
}

boost::asio::awaitable<Response> AlertHandlers::rules(Request& req) {
  only_params(req, {});
  require_alerts_ready(db_);
  auto rows = co_await db_.pool().run(
      [](pqxx::connection& c) { return storage::list_spec_rows(c, SpecTable::kRules); });
  json out = json::array();
  for (const auto& r : rows)
    out.push_back(rule_row_json(r));
  co_return json_response(200, {{"rules", out}});
}

boost::asio::awaitable<Response> AlertHandlers::create_rule(Request& req) {
  only_params(req, {});
  RuleBody b = rule_body(req);
  require_alerts_ready(db_);
  auto audit = audit_entry(req, "alert_rule.create");
  auto row = co_await db_.pool().run([&](pqxx::connection& c) {
    if (storage::list_spec_rows(c, SpecTable::kRules).size() >= kMaxRules)
      throw ApiError(409, "conflict", "at most " + std::to_string(kMaxRules) + " alert rules");
    return storage::create_spec_row(c, SpecTable::kRules, b.row, audit);
  });
  if (!row) throw ApiError(409, "conflict", "an alert rule named " + b.rule.name + " exists");
  hooks_.changed();
  co_return json_response(201, with_match_count(rule_row_json(*row), b.rule, registry_));
}

boost::asio::awaitable<Response> AlertHandlers::update_rule(Request& req) {
  only_params(req, {});
  int64_t id = alert_id_param(req, "a rule");
  RuleBody b = rule_body(req);
  require_alerts_ready(db_);
  auto audit = audit_entry(req, "alert_rule.update");
  storage::SpecRow row;
  auto result = co_await db_.pool().run([&](pqxx::connection& c) {
    return storage::update_spec_row(c, SpecTable::kRules, id, b.row, audit, &row);
  });
  if (result != SpecChange::kDone) refuse_change(result, id, b.rule.name);
  hooks_.changed();
  co_return json_response(200, with_match_count(rule_row_json(row), b.rule, registry_));
}

boost::asio::awaitable<Response> AlertHandlers::delete_rule(Request& req) {
  only_params(req, {});
  int64_t id = alert_id_param(req, "a rule");
  require_alerts_ready(db_);
  auto audit = audit_entry(req, "alert_rule.delete");
  auto result = co_await db_.pool().run([&](pqxx::connection& c) {
    return storage::delete_spec_row(c, SpecTable::kRules, id, audit);
  });
  if (result != SpecChange::kDone) refuse_change(result, id, "");
  hooks_.changed();
  co_return json_response(200, {{"id", id}, {"deleted", true}});
}

}  // namespace metricsd::api
