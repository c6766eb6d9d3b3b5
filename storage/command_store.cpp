// Command SQL; see command_store.hpp.
#include "storage/command_store.hpp"

namespace metricsd::storage {
namespace {

constexpr const char* kColumns =
    "id, node_id, type, args::text, status, message, created_by, "
    "(extract(epoch FROM created_at) * 1000)::bigint, "
    "(extract(epoch FROM delivered_at) * 1000)::bigint, "
    "(extract(epoch FROM acked_at) * 1000)::bigint";

CommandRow command_from(const pqxx::row& r) {
  CommandRow c;
  c.id = r[0].as<int64_t>();
  c.node_id = r[1].as<std::string>();
  c.type = r[2].as<std::string>();
  c.args_json = r[3].as<std::string>();
  c.status = r[4].as<std::string>();
  c.message = r[5].as<std::string>();
  c.created_by = r[6].as<std::string>();
  c.created_ms = r[7].as<int64_t>();
  if (!r[8].is_null()) c.delivered_ms = r[8].as<int64_t>();
  if (!r[9].is_null()) c.acked_ms = r[9].as<int64_t>();
  return c;
}

}  // namespace

std::optional<CommandRow> create_command(pqxx::connection& c, const std::string& node_id,
                                         const std::string& type, const std::string& args_json,
                                         const AuditEntry& audit) {
  pqxx::work tx(c);
  auto r = tx.exec_params(std::string("INSERT INTO commands (node_id, type, args, created_by) "
                                      "SELECT node_id, $2, $3::jsonb, $4 FROM nodes "
                                      "WHERE node_id = $1 RETURNING ") +
                              kColumns,
                          node_id, type, args_json, audit.token_name);
  if (r.empty()) return std::nullopt;
  CommandRow row = command_from(r[0]);
  AuditEntry a = audit;
  a.target = "node " + node_id + " command " + std::to_string(row.id);
  insert_audit(tx, a);
  tx.commit();
  return row;
}

std::vector<CommandRow> create_fleet_command(pqxx::connection& c, const std::string& type,
                                             const std::string& args_json,
                                             const AuditEntry& audit) {
  pqxx::work tx(c);
  std::vector<CommandRow> out;
  for (const auto& r :
       tx.exec_params(std::string("INSERT INTO commands (node_id, type, args, created_by) "
                                  "SELECT node_id, $1, $2::jsonb, $3 FROM nodes ORDER BY node_id "
                                  "RETURNING ") +
                          kColumns,
                      type, args_json, audit.token_name))
    out.push_back(command_from(r));
  AuditEntry a = audit;
  a.target = "fleet (" + std::to_string(out.size()) + " nodes)";
  insert_audit(tx, a);
  tx.commit();
  return out;
}

std::vector<CommandRow> list_commands(pqxx::connection& c, const std::string& node_id,
                                      const std::optional<std::string>& status,
                                      std::optional<int64_t> before_id, int limit) {
  pqxx::read_transaction tx(c);
  std::vector<CommandRow> out;
  for (const auto& r : tx.exec_params(std::string("SELECT ") + kColumns +
                                          " FROM commands WHERE node_id = $1 "
                                          "AND ($2::text IS NULL OR status = $2) "
                                          "AND ($3::bigint IS NULL OR id < $3) "
                                          "ORDER BY id DESC LIMIT $4",
                                      node_id, status, before_id, limit))
    out.push_back(command_from(r));
  return out;
}

AckResult ack_command(pqxx::connection& c, const std::string& node_id, int64_t id,
                      const std::string& status, const std::string& message,
                      const AuditEntry& audit) {
  pqxx::work tx(c);
  auto cur = tx.exec_params("SELECT status FROM commands WHERE id = $1 AND node_id = $2 FOR UPDATE",
                            id, node_id);
  if (cur.empty()) return AckResult::kNotFound;
  std::string was = cur[0][0].as<std::string>();
  if (was == "done" || was == "failed") return AckResult::kAlreadyAcked;
  tx.exec_params(
      "UPDATE commands SET status = $2, message = $3, acked_at = now(), "
      "delivered_at = coalesce(delivered_at, now()) WHERE id = $1",
      id, status, message);
  AuditEntry a = audit;
  a.target = "node " + node_id + " command " + std::to_string(id);
  insert_audit(tx, a);
  tx.commit();
  return AckResult::kDone;
}

}  // namespace metricsd::storage
