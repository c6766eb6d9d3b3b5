// App: the daemon's composition root and lifecycle (`metricsd serve`). Every component
// is a member of App::Parts, declared in dependency order (each may use those above it,
// and is destroyed before them). The lifecycle, in this order:
//
//   open()   data dir lock → embedded PostgreSQL (or database.url) → components → the
//            commit fan-out's consumers registered → the listener bound
//   start()  database start-up task → writer → stream hub → node monitor, maintenance,
//            disk watch (its first check), alert evaluator, token listener → io threads →
//            accepting → READY=1
//   wait_for_shutdown()  until SIGTERM/SIGINT (SIGHUP reloads the TLS certificate; a
//            second SIGTERM/SIGINT exits at once)
//   drain()  stop accepting and close idle connections, WebSocket clients get 1001,
//            background jobs stop; in-flight requests finish within
//            shutdown.grace_ms, then what is left is closed
//   stop()   the writer commits or refuses what is queued, answering every waiting
//            request → the stream hub → the alert evaluator → the storage pools (waiting work fails
//            with Unavailable) → the io threads (at most 2 s more) → the embedded PostgreSQL
//
// Threads: open/start/wait_for_shutdown/drain/stop run on the main thread, in order.
// Signals are handled on the io context and only wake the main thread.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>

#include "core/settings.hpp"
#include "server/run_marker.hpp"
#include "server/storage_setup.hpp"
#include "server/tls_context.hpp"

namespace metricsd::server {

class App {
 public:
  explicit App(const Settings& settings);
  ~App();
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // 0, or the exit code after logging why the daemon cannot start.
  int open();
  void start();
  void wait_for_shutdown();
  void drain();
  void stop();
  // 0, or 1 when the embedded PostgreSQL could not be brought back.
  int exit_code() const { return exit_code_; }

 private:
  struct Parts;
  void wait_hangup();
  void wait_stop_signal();

  const Settings& settings_;
  std::filesystem::path data_dir_;
  std::optional<TlsContext> tls_;        // first: a bad certificate stops start-up at once
  Storage storage_;                      // the data dir lock and the embedded PostgreSQL
  std::optional<RunMarker> run_marker_;  // after the lock: tells an unclean end
  std::unique_ptr<Parts> parts_;         // everything else, in dependency order
  int exit_code_ = 0;
  bool started_ = false;  // start() ran: the run marker is stop()'s to clear
};

// `metricsd serve`: open, start, wait, drain, stop. The exit code.
int serve(const Settings& settings);

}  // namespace metricsd::server
