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
// The embedded cluster's options: durable commits, `database.embedded_shared_buffers`.
storage::EmbeddedPostgres::Options embedded_options(const std::filesystem::path& data_dir,
                                                    int64_t shared_buffers_bytes);

// Holds the pieces that exist before the io threads start, in start order.
struct Storage {
  std::optional<DataDirLock> lock;
  std::optional<storage::EmbeddedPostgres> embedded;
  std::string conninfo;
};

// Returns 0, or the exit code after logging why it failed.
int open_storage(const Settings& s, Storage& st);

}  // namespace metricsd::server
