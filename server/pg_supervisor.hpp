// PgSupervisor: keeps the embedded PostgreSQL running. When its server exits (kill -9, a
// crash, a PANIC it could not recover from), the daemon turns not ready with the reason
// (/readyz 503, metricsd_database_ready 0, writes 503 + Retry-After), the server is
// started again with backoff (1 s doubling up to 30 s; PostgreSQL's crash recovery runs),
// and the daemon is ready again once it answers. If it cannot be brought back within
// `give_up_after`, poll() returns false and the daemon exits non-zero so the service
// manager takes over. With an external database nothing here runs: the pools reconnect
// by themselves.
//
// Threads: poll() from the thread that started the cluster (its parent-death signal is
// tied to that thread), about every 200 ms; it blocks while a restart runs.
#pragma once

#include <chrono>
#include <optional>

#include "core/prom.hpp"
#include "storage/database.hpp"
#include "storage/embedded_postgres.hpp"

namespace metricsd::server {

class PgSupervisor {
 public:
  PgSupervisor(storage::EmbeddedPostgres& pg, storage::Database& db, prom::Registry& metrics,
               std::chrono::milliseconds give_up_after);

  // False once the server could not be restarted within give_up_after.
  bool poll();

 private:
  using Clock = std::chrono::steady_clock;

  storage::EmbeddedPostgres& pg_;
  storage::Database& db_;
  const std::chrono::milliseconds give_up_after_;
  prom::Counter& restarts_;
  prom::Counter& failed_attempts_;
  prom::Gauge& up_;
  std::optional<Clock::time_point> down_since_;
  Clock::time_point next_attempt_{};
  std::chrono::milliseconds backoff_{1000};
  int attempts_ = 0;
};

}  // namespace metricsd::server
