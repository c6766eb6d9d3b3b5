// SQL over node commands: creation (one node, or every node for fleet-wide orders), the
// listing, and acknowledgement by the node. Handing pending commands to a node happens
// in its heartbeat (node_store). Every function runs on a storage thread.
#pragma once

#include <cstdint>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "storage/token_store.hpp"

namespace metricsd::storage {

struct CommandRow {
  int64_t id = 0;
  std::string node_id;
  std::string type;
  std::string args_json;
  std::string status;  // pending, delivered, done, failed
  std::string message;
  std::string created_by;
  int64_t created_ms = 0;
  std::optional<int64_t> delivered_ms, acked_ms;
};

// nullopt when the node is not registered. Audited in the same transaction.
std::optional<CommandRow> create_command(pqxx::connection& c, const std::string& node_id,
                                         const std::string& type, const std::string& args_json,
                                         const AuditEntry& audit);
// One command per registered node; audited once.
std::vector<CommandRow> create_fleet_command(pqxx::connection& c, const std::string& type,
                                             const std::string& args_json, const AuditEntry& audit);
// Newest first; `before_id` is the cursor.
std::vector<CommandRow> list_commands(pqxx::connection& c, const std::string& node_id,
                                      const std::optional<std::string>& status,
                                      std::optional<int64_t> before_id, int limit);

enum class AckResult { kDone, kNotFound, kAlreadyAcked };
AckResult ack_command(pqxx::connection& c, const std::string& node_id, int64_t id,
                      const std::string& status, const std::string& message,
                      const AuditEntry& audit);

}  // namespace metricsd::storage
