// Applies schema migrations; see migrations.hpp.
#include "storage/migrations.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <stdexcept>

namespace metricsd::storage {
namespace {

constexpr const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY, name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";
constexpr const char* kSelectVersions = "SELECT version FROM schema_migrations";
constexpr const char* kInsertVersion =
    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)";
constexpr const char* kMaxVersion = "SELECT COALESCE(max(version), 0) FROM schema_migrations";
constexpr const char* kTableExists = "SELECT to_regclass('schema_migrations') IS NOT NULL";

// Holds the session-level advisory lock for its lifetime.
class AdvisoryLock {
 public:
  explicit AdvisoryLock(pqxx::connection& c) : c_(c) {
    pqxx::nontransaction(c_).exec_params("SELECT pg_advisory_lock($1)", kSchemaLockKey);
  }
  ~AdvisoryLock() {
    try {
      pqxx::nontransaction(c_).exec_params("SELECT pg_advisory_unlock($1)", kSchemaLockKey);
    } catch (const std::exception&) {
      // The connection is gone; PostgreSQL released the lock with the session.
    }
  }
  AdvisoryLock(const AdvisoryLock&) = delete;
  AdvisoryLock& operator=(const AdvisoryLock&) = delete;

 private:
  pqxx::connection& c_;
};

}  // namespace

int current_schema_version(pqxx::connection& c) {
  pqxx::nontransaction tx(c);
  if (!tx.exec(kTableExists)[0][0].as<bool>()) return 0;
  return tx.exec(kMaxVersion)[0][0].as<int>();
}

int apply_migrations(pqxx::connection& c, const std::vector<Migration>& migrations) {
  for (size_t i = 1; i < migrations.size(); ++i) {
    if (migrations[i].version <= migrations[i - 1].version)
      throw std::runtime_error(fmt::format("migrations {} and {} are not in increasing order",
                                           migrations[i - 1].name, migrations[i].name));
  }
  AdvisoryLock lock(c);
  pqxx::nontransaction(c).exec(kCreateTable);
  std::vector<int> applied;
  for (const auto& row : pqxx::nontransaction(c).exec(kSelectVersions))
    applied.push_back(row[0].as<int>());
  for (const auto& m : migrations) {
    if (std::find(applied.begin(), applied.end(), m.version) != applied.end()) continue;
    try {
      pqxx::work tx(c);
      tx.exec(std::string(m.sql));
      tx.exec_params(kInsertVersion, m.version, std::string(m.name));
      tx.commit();
    } catch (const pqxx::broken_connection&) {
      throw;
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("migration {} failed: {}", m.name, e.what()));
    }
    spdlog::info("applied migration {}", m.name);
  }
  return current_schema_version(c);
}

}  // namespace metricsd::storage
