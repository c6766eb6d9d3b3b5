// Alert SQL; see alert_store.hpp.
#include "storage/alert_store.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>

namespace metricsd::storage {
namespace {

using nlohmann::json;

constexpr const char* kRuleColumns =
    "id, name, spec::text, enabled, version, (extract(epoch FROM updated_at) * 1000)::bigint, "
    "updated_by";

AlertRuleRow rule_from(const pqxx::row& r) {
  return {r[0].as<int64_t>(), r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<bool>(),
          r[4].as<int>(),     r[5].as<int64_t>(),     r[6].as<std::string>()};
}

json rule_json(const AlertRuleRow& r) {
  return {{"name", r.name},
          {"spec", json::parse(r.spec_json)},
          {"enabled", r.enabled},
          {"version", r.version}};
}

}  // namespace

std::vector<AlertRuleRow> list_alert_rules(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  std::vector<AlertRuleRow> out;
  for (const auto& r :
       tx.exec(std::string("SELECT ") + kRuleColumns + " FROM alert_rules ORDER BY id"))
    out.push_back(rule_from(r));
  return out;
}

std::optional<AlertRuleRow> create_alert_rule(pqxx::connection& c, const std::string& name,
                                              const std::string& spec_json, bool enabled,
                                              const AuditEntry& audit) {
  pqxx::work tx(c);
  auto r =
      tx.exec_params(std::string("INSERT INTO alert_rules (name, spec, enabled, updated_by) "
                                 "VALUES ($1, $2::jsonb, $3, $4) ON CONFLICT (name) DO NOTHING "
                                 "RETURNING ") +
                         kRuleColumns,
                     name, spec_json, enabled, audit.token_name);
  if (r.empty()) return std::nullopt;
  AlertRuleRow row = rule_from(r[0]);
  AuditEntry a = audit;
  a.target = "alert rule " + std::to_string(row.id);
  a.details_json = json{{"new", rule_json(row)}}.dump();
  insert_audit(tx, a);
  tx.commit();
  return row;
}

RuleChange update_alert_rule(pqxx::connection& c, int64_t id, const std::string& name,
                             const std::string& spec_json, bool enabled, const AuditEntry& audit,
                             AlertRuleRow* out) {
  pqxx::work tx(c);
  auto old = tx.exec_params(
      std::string("SELECT ") + kRuleColumns + " FROM alert_rules WHERE id = $1 FOR UPDATE", id);
  if (old.empty()) return RuleChange::kNotFound;
  auto taken = tx.exec_params("SELECT 1 FROM alert_rules WHERE name = $1 AND id <> $2", name, id);
  if (!taken.empty()) return RuleChange::kNameTaken;
  auto r = tx.exec_params(std::string("UPDATE alert_rules SET name = $2, spec = $3::jsonb, "
                                      "enabled = $4, version = version + 1, updated_at = now(), "
                                      "updated_by = $5 WHERE id = $1 RETURNING ") +
                              kRuleColumns,
                          id, name, spec_json, enabled, audit.token_name);
  AlertRuleRow row = rule_from(r[0]);
  AuditEntry a = audit;
  a.target = "alert rule " + std::to_string(id);
  a.details_json = json{{"old", rule_json(rule_from(old[0]))}, {"new", rule_json(row)}}.dump();
  insert_audit(tx, a);
  tx.commit();
  if (out) *out = row;
  return RuleChange::kDone;
}

bool delete_alert_rule(pqxx::connection& c, int64_t id, const AuditEntry& audit) {
  pqxx::work tx(c);
  auto old = tx.exec_params(
      std::string("DELETE FROM alert_rules WHERE id = $1 RETURNING ") + kRuleColumns, id);
  if (old.empty()) return false;
  AuditEntry a = audit;
  a.target = "alert rule " + std::to_string(id);
  a.details_json = json{{"old", rule_json(rule_from(old[0]))}}.dump();
  insert_audit(tx, a);
  tx.commit();
  return true;
}

void record_alert_transitions(pqxx::connection& c, const std::vector<AlertTransition>& ts) {
  if (ts.empty()) return;
  pqxx::work tx(c);
  for (const auto& t : ts) {
    // A value as text, empty for none: NaN and infinities are stored as NULL.
    std::string value = std::isfinite(t.value) ? fmt::format("{}", t.value) : "";
    // A rule deleted meanwhile: its history is kept without the reference.
    tx.exec_params(
        "INSERT INTO alert_history (ts, rule_id, rule_name, node_id, event, severity, value) "
        "VALUES (to_timestamp($1 / 1000.0), (SELECT id FROM alert_rules WHERE id = $2), $3, $4, "
        "$5, $6, NULLIF($7, '')::double precision)",
        t.ts_ms, t.rule_id, t.rule, t.node, t.event, t.severity, value);
    if (t.event == "resolved") {
      tx.exec_params("DELETE FROM alerts_active WHERE rule_id = $1 AND node_id = $2", t.rule_id,
                     t.node);
    } else {
      tx.exec_params(
          "INSERT INTO alerts_active (rule_id, node_id, state, severity, value, since, "
          "changed_at) SELECT id, $2, $3, $4, NULLIF($5, '')::double precision, "
          "to_timestamp($6 / 1000.0), to_timestamp($6 / 1000.0) FROM alert_rules WHERE id = $1 "
          "ON CONFLICT (rule_id, node_id) DO UPDATE SET "
          "state = EXCLUDED.state, severity = EXCLUDED.severity, value = EXCLUDED.value, "
          "since = CASE WHEN alerts_active.state = EXCLUDED.state THEN alerts_active.since "
          "ELSE EXCLUDED.since END, changed_at = EXCLUDED.changed_at",
          t.rule_id, t.node, t.event == "pending" ? "pending" : "firing", t.severity, value,
          t.ts_ms);
    }
  }
  tx.commit();
}

std::vector<ActiveAlert> load_active_alerts(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  std::vector<ActiveAlert> out;
  for (const auto& r : tx.exec("SELECT a.rule_id, r.name, a.node_id, a.state, a.severity, a.value, "
                               "(extract(epoch FROM a.since) * 1000)::bigint, "
                               "(extract(epoch FROM a.changed_at) * 1000)::bigint "
                               "FROM alerts_active a JOIN alert_rules r ON r.id = a.rule_id "
                               "ORDER BY a.rule_id, a.node_id"))
    out.push_back({r[0].as<int64_t>(), r[1].as<std::string>(), r[2].as<std::string>(),
                   r[3].as<std::string>(), r[4].as<std::string>(),
                   r[5].is_null() ? std::nan("") : r[5].as<double>(), r[6].as<int64_t>(),
                   r[7].as<int64_t>()});
  return out;
}

std::vector<AlertHistoryRow> list_alert_history(pqxx::connection& c, int64_t rule,
                                                const std::string& node, int64_t before,
                                                int limit) {
  pqxx::nontransaction tx(c);
  std::vector<AlertHistoryRow> out;
  for (const auto& r : tx.exec_params(
           "SELECT id, (extract(epoch FROM ts) * 1000)::bigint, coalesce(rule_id, 0), rule_name, "
           "node_id, event, severity, value FROM alert_history "
           "WHERE ($1 = 0 OR rule_id = $1) AND ($2 = '' OR node_id = $2) "
           "AND ($3 = 0 OR id < $3) ORDER BY id DESC LIMIT $4",
           rule, node, before, limit)) {
    AlertHistoryRow h;
    h.id = r[0].as<int64_t>();
    h.t = {r[2].as<int64_t>(),     r[3].as<std::string>(),
           r[4].as<std::string>(), r[5].as<std::string>(),
           r[6].as<std::string>(), r[7].is_null() ? std::nan("") : r[7].as<double>(),
           r[1].as<int64_t>()};
    out.push_back(std::move(h));
  }
  return out;
}

}  // namespace metricsd::storage
