// Storage opening; see storage_setup.hpp.
#include "server/storage_setup.hpp"

#include <spdlog/spdlog.h>

namespace fs = std::filesystem;

namespace metricsd::server {

fs::path absolute_data_dir(const Settings& s) {
  return fs::weakly_canonical(fs::absolute(s.data_dir));
}

storage::EmbeddedPostgres::Options embedded_options(const fs::path& data_dir, const Settings& s) {
  storage::EmbeddedPostgres::Options o;
  o.data_dir = data_dir;
  int64_t shared_buffers_bytes = s.database_embedded_shared_buffers;
  if (const auto& a = s.database_embedded_sql_listen; !a.empty()) {  // checked: host:port
    auto colon = a.rfind(':');
    o.sql_listen_host = a.substr(0, colon);
    o.sql_listen_port = std::stoi(a.substr(colon + 1));
  }
  // Durable commits (fsync on, synchronous_commit on); room for write bursts.
  o.settings = {"max_connections=100",
                "shared_buffers=" + std::to_string(shared_buffers_bytes >> 10) + "kB",
                "max_wal_size=4GB",
                "checkpoint_timeout=15min",
                "fsync=on",
                "synchronous_commit=on"};
  return o;
}

int open_storage(const Settings& s, Storage& st) {
  fs::path dir = absolute_data_dir(s);
  try {
    st.lock.emplace(dir);
    if (s.database_url.empty()) {
      st.embedded.emplace(embedded_options(dir, s));
      st.embedded->start();
      st.conninfo = st.embedded->conninfo();
      spdlog::info("embedded postgres running (pid {}), socket in {}", st.embedded->pid(),
                   st.embedded->socket_dir().string());
    } else {
      st.conninfo = s.database_url;
    }
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 0;
}

int attach_storage(const Settings& s, Storage& st) {
  if (!s.database_url.empty()) return open_storage(s, st);
  auto dir = absolute_data_dir(s);
  try {
    DataDirLock probe(dir);
  } catch (const std::exception&) {
    // The daemon holds the data dir: talk to its PostgreSQL through the socket.
    st.conninfo = storage::EmbeddedPostgres(embedded_options(dir, s)).conninfo();
    return 0;
  }
  return open_storage(s, st);
}

}  // namespace metricsd::server
