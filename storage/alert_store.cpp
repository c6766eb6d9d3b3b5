// Alert rules, receivers and silences in SQL; see alert_store.hpp.
#include "storage/alert_store.hpp"

#include <nlohmann/json.hpp>

namespace metricsd::storage {
namespace {

using nlohmann::json;

constexpr const char* kColumns =
    "id, name, spec::text, enabled, version, (extract(epoch FROM updated_at) * 1000)::bigint, "
    "updated_by, source";

const char* table_name(SpecTable t) {
  return t == SpecTable::kRules ? "alert_rules" : "alert_receivers";
}
// As the audit log names a row: "alert rule 3", "alert receiver 2".
std::string target(SpecTable t, int64_t id) {
  return (t == SpecTable::kRules ? "alert rule " : "alert receiver ") + std::to_string(id);
}

SpecRow row_from(const pqxx::row& r) {
  return {r[0].as<int64_t>(),     r[1].as<std::string>(), r[2].as<std::string>(),
          r[3].as<bool>(),        r[4].as<int>(),         r[5].as<int64_t>(),
          r[6].as<std::string>(), r[7].as<std::string>()};
}

// A version as the audit log keeps it. A receiver's spec holds secrets: the log keeps
// which fields changed, never their values.
json audit_json(SpecTable t, const SpecRow& r) {
  json spec = json::parse(r.spec_json);
  if (t == SpecTable::kReceivers) {
    if (spec.contains("secret")) spec["secret"] = "(hidden)";
    if (spec.contains("headers"))
      for (auto& [k, v] : spec["headers"].items())
        v = "(hidden)";
  }
  return {{"name", r.name}, {"spec", spec}, {"enabled", r.enabled}, {"version", r.version}};
}

std::string select_sql(SpecTable t, const char* where) {
  return std::string("SELECT ") + kColumns + " FROM " + table_name(t) + where;
}

AlertSilence silence_from(const pqxx::row& r) {
  AlertSilence s;
  s.id = r[0].as<int64_t>();
  json m = json::parse(r[1].as<std::string>());
  if (m.contains("rule")) s.rule = m["rule"].get<std::string>();
  if (m.contains("node")) s.node = m["node"].get<std::string>();
  if (m.contains("severity")) s.severity = m["severity"].get<std::string>();
  s.starts_ms = r[2].as<int64_t>();
  s.ends_ms = r[3].as<int64_t>();
  s.comment = r[4].as<std::string>();
  s.created_by = r[5].as<std::string>();
  return s;
}

constexpr const char* kSilenceColumns =
    "id, matchers::text, (extract(epoch FROM starts_at) * 1000)::bigint, "
    "(extract(epoch FROM ends_at) * 1000)::bigint, comment, created_by";

json silence_json(const AlertSilence& s) {
  return {{"matchers", alert_silence_matchers_json(s)},
          {"starts_ms", s.starts_ms},
          {"ends_ms", s.ends_ms},
          {"comment", s.comment}};
}

}  // namespace

std::vector<SpecRow> list_spec_rows(pqxx::connection& c, SpecTable table) {
  pqxx::nontransaction tx(c);
  std::vector<SpecRow> out;
  for (const auto& r : tx.exec(select_sql(table, " ORDER BY id")))
    out.push_back(row_from(r));
  return out;
}

std::optional<SpecRow> find_spec_row(pqxx::connection& c, SpecTable table, int64_t id) {
  pqxx::nontransaction tx(c);
  auto r = tx.exec_params(select_sql(table, " WHERE id = $1"), id);
  if (r.empty()) return std::nullopt;
  return row_from(r[0]);
}

std::optional<SpecRow> create_spec_row(pqxx::connection& c, SpecTable table, const SpecRow& in,
                                       const AuditEntry& audit) {
  pqxx::work tx(c);
  auto r = tx.exec_params(std::string("INSERT INTO ") + table_name(table) +
                              " (name, spec, enabled, updated_by, source) "
                              "VALUES ($1, $2::jsonb, $3, $4, $5) ON CONFLICT (name) DO NOTHING "
                              "RETURNING " +
                              kColumns,
                          in.name, in.spec_json, in.enabled, audit.token_name, in.source);
  if (r.empty()) return std::nullopt;
  SpecRow row = row_from(r[0]);
  AuditEntry a = audit;
  a.target = target(table, row.id);
  a.details_json = json{{"new", audit_json(table, row)}}.dump();
  insert_audit(tx, a);
  tx.commit();
  return row;
}

SpecChange update_spec_row(pqxx::connection& c, SpecTable table, int64_t id, const SpecRow& in,
                           const AuditEntry& audit, SpecRow* out) {
  pqxx::work tx(c);
  auto old = tx.exec_params(select_sql(table, " WHERE id = $1 FOR UPDATE"), id);
  if (old.empty()) return SpecChange::kNotFound;
  SpecRow before = row_from(old[0]);
  if (before.source == "file" && in.source != "file") return SpecChange::kFromFile;
  auto taken = tx.exec_params(
      std::string("SELECT 1 FROM ") + table_name(table) + " WHERE name = $1 AND id <> $2", in.name,
      id);
  if (!taken.empty()) return SpecChange::kNameTaken;
  auto r = tx.exec_params(std::string("UPDATE ") + table_name(table) +
                              " SET name = $2, spec = $3::jsonb, enabled = $4, "
                              "version = version + 1, updated_at = now(), updated_by = $5, "
                              "source = $6 WHERE id = $1 RETURNING " +
                              kColumns,
                          id, in.name, in.spec_json, in.enabled, audit.token_name, in.source);
  SpecRow row = row_from(r[0]);
  AuditEntry a = audit;
  a.target = target(table, id);
  a.details_json = json{{"old", audit_json(table, before)}, {"new", audit_json(table, row)}}.dump();
  insert_audit(tx, a);
  tx.commit();
  if (out) *out = row;
  return SpecChange::kDone;
}

SpecChange delete_spec_row(pqxx::connection& c, SpecTable table, int64_t id,
                           const AuditEntry& audit, bool from_file) {
  pqxx::work tx(c);
  auto old = tx.exec_params(select_sql(table, " WHERE id = $1 FOR UPDATE"), id);
  if (old.empty()) return SpecChange::kNotFound;
  SpecRow before = row_from(old[0]);
  if (before.source == "file" && !from_file) return SpecChange::kFromFile;
  tx.exec_params(std::string("DELETE FROM ") + table_name(table) + " WHERE id = $1", id);
  AuditEntry a = audit;
  a.target = target(table, id);
  a.details_json = json{{"old", audit_json(table, before)}}.dump();
  insert_audit(tx, a);
  tx.commit();
  return SpecChange::kDone;
}

std::vector<AlertSilence> list_silences(pqxx::connection& c, bool ended, int limit) {
  pqxx::nontransaction tx(c);
  std::vector<AlertSilence> out;
  for (const auto& r :
       tx.exec_params(std::string("SELECT ") + kSilenceColumns +
                          " FROM alert_silences WHERE $1 OR ends_at > now() ORDER BY id DESC "
                          "LIMIT $2",
                      ended, limit))
    out.push_back(silence_from(r));
  return out;
}

AlertSilence create_silence(pqxx::connection& c, const AlertSilence& s, const AuditEntry& audit) {
  pqxx::work tx(c);
  auto r = tx.exec_params(
      std::string("INSERT INTO alert_silences (matchers, starts_at, ends_at, comment, "
                  "created_by) VALUES ($1::jsonb, to_timestamp($2 / 1000.0), "
                  "to_timestamp($3 / 1000.0), $4, $5) RETURNING ") +
          kSilenceColumns,
      alert_silence_matchers_json(s).dump(), s.starts_ms, s.ends_ms, s.comment, audit.token_name);
  AlertSilence out = silence_from(r[0]);
  AuditEntry a = audit;
  a.target = "alert silence " + std::to_string(out.id);
  a.details_json = json{{"new", silence_json(out)}}.dump();
  insert_audit(tx, a);
  tx.commit();
  return out;
}

bool expire_silence(pqxx::connection& c, int64_t id, const AuditEntry& audit) {
  pqxx::work tx(c);
  auto r = tx.exec_params(std::string("UPDATE alert_silences SET ends_at = now() WHERE id = $1 "
                                      "AND ends_at > now() RETURNING ") +
                              kSilenceColumns,
                          id);
  if (r.empty()) return false;
  AuditEntry a = audit;
  a.target = "alert silence " + std::to_string(id);
  a.details_json = json{{"expired", silence_json(silence_from(r[0]))}}.dump();
  insert_audit(tx, a);
  tx.commit();
  return true;
}

}  // namespace metricsd::storage
