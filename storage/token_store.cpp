// Token and audit SQL; see token_store.hpp.
#include "storage/token_store.hpp"

namespace metricsd::storage {
namespace {

constexpr const char* kTokenColumns =
    "id, name, role, coalesce(node_id, ''), "
    "(extract(epoch FROM created_at) * 1000)::bigint, "
    "(extract(epoch FROM last_used_at) * 1000)::bigint, "
    "(extract(epoch FROM revoked_at) * 1000)::bigint";

TokenRow token_from(const pqxx::row& r) {
  TokenRow t;
  t.id = r[0].as<int64_t>();
  t.name = r[1].as<std::string>();
  t.role = parse_role(r[2].as<std::string>()).value_or(Role::kViewer);
  t.node_id = r[3].as<std::string>();
  t.created_ms = r[4].as<int64_t>();
  if (!r[5].is_null()) t.last_used_ms = r[5].as<int64_t>();
  if (!r[6].is_null()) t.revoked_ms = r[6].as<int64_t>();
  return t;
}

std::optional<std::string> nonempty(const std::string& s) {
  if (s.empty()) return std::nullopt;
  return s;
}

}  // namespace

TokenRow create_token(pqxx::connection& c, const std::string& name, Role role,
                      const std::string& node_id, const std::string& secret_hash,
                      const AuditEntry& audit) {
  pqxx::work tx(c);
  auto r = tx.exec_params1(std::string("INSERT INTO tokens (name, role, node_id, secret_hash) "
                                       "VALUES ($1, $2, $3, $4) RETURNING ") +
                               kTokenColumns,
                           name, std::string(role_name(role)), nonempty(node_id), secret_hash);
  TokenRow t = token_from(r);
  tx.exec_params("SELECT pg_notify($1, $2)", std::string(kTokenCreatedChannel),
                 std::to_string(t.id));
  AuditEntry a = audit;
  a.target = "token " + std::to_string(t.id);
  insert_audit(tx, a);
  tx.commit();
  return t;
}

std::optional<TokenRow> find_token(pqxx::connection& c, const std::string& secret_hash) {
  pqxx::read_transaction tx(c);
  auto r = tx.exec_params(std::string("SELECT ") + kTokenColumns +
                              " FROM tokens WHERE secret_hash = $1 AND revoked_at IS NULL",
                          secret_hash);
  if (r.empty()) return std::nullopt;
  return token_from(r[0]);
}

std::vector<TokenRow> list_tokens(pqxx::connection& c, bool include_revoked) {
  pqxx::read_transaction tx(c);
  std::vector<TokenRow> out;
  for (const auto& r : tx.exec_params(std::string("SELECT ") + kTokenColumns +
                                          " FROM tokens WHERE $1 OR revoked_at IS NULL ORDER BY id",
                                      include_revoked))
    out.push_back(token_from(r));
  return out;
}

std::vector<LiveTokenHash> list_live_token_hashes(pqxx::connection& c, int64_t limit) {
  pqxx::read_transaction tx(c);
  std::vector<LiveTokenHash> out;
  for (const auto& r : tx.exec_params(
           "SELECT id, secret_hash FROM tokens WHERE revoked_at IS NULL ORDER BY id LIMIT $1",
           limit))
    out.push_back({r[0].as<int64_t>(), r[1].as<std::string>()});
  return out;
}

std::optional<std::string> live_token_hash(pqxx::connection& c, int64_t id) {
  pqxx::read_transaction tx(c);
  auto r =
      tx.exec_params("SELECT secret_hash FROM tokens WHERE id = $1 AND revoked_at IS NULL", id);
  if (r.empty()) return std::nullopt;
  return r[0][0].as<std::string>();
}

std::optional<TokenRow> revoke_token(pqxx::connection& c, int64_t id, const AuditEntry& audit) {
  pqxx::work tx(c);
  auto r = tx.exec_params(std::string("UPDATE tokens SET revoked_at = now() "
                                      "WHERE id = $1 AND revoked_at IS NULL RETURNING ") +
                              kTokenColumns,
                          id);
  if (r.empty()) return std::nullopt;
  tx.exec_params("SELECT pg_notify($1, $2)", std::string(kTokenChannel), std::to_string(id));
  AuditEntry a = audit;
  a.target = "token " + std::to_string(id);
  insert_audit(tx, a);
  tx.commit();
  return token_from(r[0]);
}

void touch_tokens(pqxx::connection& c, const std::vector<std::pair<int64_t, int64_t>>& used) {
  if (used.empty()) return;
  std::string ids = "{", times = "{";
  for (size_t i = 0; i < used.size(); ++i) {
    if (i) {
      ids += ',';
      times += ',';
    }
    ids += std::to_string(used[i].first);
    times += std::to_string(used[i].second);
  }
  ids += "}";
  times += "}";
  pqxx::work tx(c);
  tx.exec_params(
      "UPDATE tokens t SET last_used_at = to_timestamp(u.ms / 1000.0) "
      "FROM unnest($1::bigint[], $2::bigint[]) AS u(id, ms) "
      "WHERE t.id = u.id AND (t.last_used_at IS NULL OR t.last_used_at < to_timestamp(u.ms / "
      "1000.0))",
      ids, times);
  tx.commit();
}

void insert_audit(pqxx::transaction_base& tx, const AuditEntry& e) {
  tx.exec_params(
      "INSERT INTO audit_log (token_id, token_name, source_addr, action, target, outcome, "
      "details) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
      e.token_id, e.token_name, e.source_addr, e.action, e.target, e.outcome, e.details_json);
}

void insert_audit(pqxx::connection& c, const AuditEntry& e) {
  pqxx::work tx(c);
  insert_audit(tx, e);
  tx.commit();
}

std::vector<AuditRow> list_audit(pqxx::connection& c, const AuditFilter& f) {
  pqxx::read_transaction tx(c);
  std::optional<std::string> exact, prefix;
  if (f.action && !f.action->empty() && f.action->back() == '.')
    prefix = *f.action;
  else
    exact = f.action;
  auto rows = tx.exec_params(
      "SELECT id, (extract(epoch FROM ts) * 1000)::bigint, token_id, token_name, source_addr, "
      "action, target, outcome, details::text FROM audit_log "
      "WHERE ($1::text IS NULL OR action = $1) "
      "AND ($2::text IS NULL OR left(action, length($2)) = $2) "
      "AND ($3::text IS NULL OR token_name = $3) AND ($4::text IS NULL OR outcome = $4) "
      "AND ($5::bigint IS NULL OR ts >= to_timestamp($5 / 1000.0)) "
      "AND ($6::bigint IS NULL OR ts < to_timestamp($6 / 1000.0)) "
      "AND ($7::bigint IS NULL OR id < $7) ORDER BY id DESC LIMIT $8",
      exact, prefix, f.token_name, f.outcome, f.from_ms, f.to_ms, f.before_id, f.limit);
  std::vector<AuditRow> out;
  for (const auto& r : rows) {
    AuditRow a;
    a.id = r[0].as<int64_t>();
    a.ts_ms = r[1].as<int64_t>();
    if (!r[2].is_null()) a.entry.token_id = r[2].as<int64_t>();
    a.entry.token_name = r[3].as<std::string>();
    a.entry.source_addr = r[4].as<std::string>();
    a.entry.action = r[5].as<std::string>();
    a.entry.target = r[6].as<std::string>();
    a.entry.outcome = r[7].as<std::string>();
    a.entry.details_json = r[8].as<std::string>();
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace metricsd::storage
