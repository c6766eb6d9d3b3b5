// Opening the daemon's storage: the data dir lock, then either the embedded PostgreSQL
// (started in <data_dir>) or the configured database.url. Shared by serve, migrate and
// token.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "core/settings.hpp"
#include "server/data_dir_lock.hpp"
#include "storage/embedded_postgres.hpp"

namespace metricsd::server {

std::filesystem::path absolute_data_dir(const Settings& s);
// The embedded cluster's options: durable commits, `database.embedded_shared_buffers`,
// `database.embedded_sql_listen`.
storage::EmbeddedPostgres::Options embedded_options(const std::filesystem::path& data_dir,
                                                    const Settings& s);

// Holds the pieces that exist before the io threads start, in start order.
struct Storage {
  std::optional<DataDirLock> lock;
  std::optional<storage::EmbeddedPostgres> embedded;
  std::string conninfo;
};

// Returns 0, or the exit code after logging why it failed.
int open_storage(const Settings& s, Storage& st);

// For commands that work whether or not the daemon runs (token, backup): with the data
// dir free, opens storage as open_storage() does (starting the embedded PostgreSQL for
// the moment); when a running daemon holds it, leaves `st` empty and connects to that
// daemon's PostgreSQL through its socket. Sets st.conninfo either way; 0 or an exit code.
int attach_storage(const Settings& s, Storage& st);

}  // namespace metricsd::server
