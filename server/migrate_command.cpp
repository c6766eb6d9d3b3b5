// `metricsd migrate`; see migrate_command.hpp.
#include "server/migrate_command.hpp"

#include <spdlog/spdlog.h>

#include "server/storage_setup.hpp"
#include "storage/migrations.hpp"
#include "storage/storage_pool.hpp"

namespace metricsd::server {

int migrate(const Settings& s) {
  Storage st;
  if (int rc = open_storage(s, st); rc != 0) return rc;
  try {
    pqxx::connection c(storage::StoragePool::with_client_params(
        st.conninfo, static_cast<int>(s.database_connect_timeout_ms)));
    int before = storage::current_schema_version(c);
    int after = storage::apply_migrations(c, storage::embedded_migrations());
    spdlog::info("schema version {} (was {})", after, before);
  } catch (const std::exception& e) {
    spdlog::error("migrate: {}", e.what());
    return 1;
  }
  return 0;
}

}  // namespace metricsd::server
