// Schema migrations: numbered SQL files from migrations/, compiled into the binary,
// applied in order, each in its own transaction, under a PostgreSQL advisory lock so
// several daemons starting on one database apply each migration exactly once.
#pragma once

#include <pqxx/pqxx>
#include <string_view>
#include <vector>

namespace metricsd::storage {

struct Migration {
  int version;
  std::string_view name;
  std::string_view sql;
};

// Every migration of this build, ordered by version (generated at build time).
const std::vector<Migration>& embedded_migrations();

// Session-level advisory lock key shared by every job that must run alone across daemons.
inline constexpr long long kSchemaLockKey = 0x6d65747269637364;  // "metricsd"

// Applies what is not yet in schema_migrations; returns the resulting schema version.
// Throws std::runtime_error naming the failing migration.
int apply_migrations(pqxx::connection& c, const std::vector<Migration>& migrations);

// The highest applied version, 0 when none.
int current_schema_version(pqxx::connection& c);

}  // namespace metricsd::storage
