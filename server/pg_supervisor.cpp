// Restarting the embedded PostgreSQL (see pg_supervisor.hpp).
#include "server/pg_supervisor.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace metricsd::server {

PgSupervisor::PgSupervisor(storage::EmbeddedPostgres& pg, storage::Database& db,
                           prom::Registry& metrics, std::chrono::milliseconds give_up_after)
    : pg_(pg),
      db_(db),
      give_up_after_(give_up_after),
      restarts_(metrics
                    .counter("metricsd_embedded_postgres_restarts_total",
                             "Times the embedded PostgreSQL was started again after it exited")
                    .with({})),
      failed_attempts_(metrics
                           .counter("metricsd_embedded_postgres_failed_restarts_total",
                                    "Attempts to start the embedded PostgreSQL again that failed")
                           .with({})),
      up_(metrics
              .gauge("metricsd_embedded_postgres_up",
                     "1 while the embedded PostgreSQL server runs, 0 while it is being restarted")
              .with({})) {
  up_.set(1);
}

bool PgSupervisor::poll() {
  const auto now = Clock::now();
  if (!down_since_) {
    auto how = pg_.reap();
    if (!how) return true;
    down_since_ = now;
    next_attempt_ = now;
    backoff_ = std::chrono::milliseconds(1000);
    attempts_ = 0;
    up_.set(0);
    const std::string reason = "the embedded PostgreSQL exited (" + *how + "); restarting it";
    spdlog::error("{} (writes answer 503 until it is back)", reason);
    db_.suspend(reason);
  }
  if (now < next_attempt_) return true;
  ++attempts_;
  try {
    pg_.restart();
  } catch (const std::exception& e) {
    failed_attempts_.inc();
    const auto down =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - *down_since_);
    if (down >= give_up_after_) {
      spdlog::critical(
          "the embedded PostgreSQL could not be started again in {} s ({} attempts; last: {}); "
          "exiting so the service manager restarts metricsd",
          down.count() / 1000, attempts_, e.what());
      return false;
    }
    spdlog::warn("embedded PostgreSQL restart attempt {} failed ({}); next in {} s", attempts_,
                 e.what(), backoff_.count() / 1000.0);
    db_.suspend("the embedded PostgreSQL is down; restart attempt " + std::to_string(attempts_) +
                " failed, retrying");
    next_attempt_ = Clock::now() + backoff_;
    backoff_ = std::min(backoff_ * 2, std::chrono::milliseconds(30000));
    return true;
  }
  const double took = std::chrono::duration<double>(Clock::now() - *down_since_).count();
  spdlog::info("embedded PostgreSQL is back (pid {}) after {:.1f} s and {} attempt(s)", pg_.pid(),
               took, attempts_);
  restarts_.inc();
  up_.set(1);
  down_since_.reset();
  db_.resume();
  return true;
}

}  // namespace metricsd::server
