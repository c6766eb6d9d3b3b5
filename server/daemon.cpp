// The daemon's lifecycle; see daemon.hpp.
#include "server/daemon.hpp"

#include <systemd/sd-daemon.h>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <filesystem>
#include <optional>
#include <thread>

#include "api/ingest_handlers.hpp"
#include "api/nodes_handlers.hpp"
#include "api/ops_handlers.hpp"
#include "core/head.hpp"
#include "core/live_settings.hpp"
#include "core/rate_window.hpp"
#include "core/thread_name.hpp"
#include "core/tier_cache.hpp"
#include "core/version.hpp"
#include "server/auth.hpp"
#include "server/control_routes.hpp"
#include "server/cors.hpp"
#include "server/data_dir_lock.hpp"
#include "server/http_server.hpp"
#include "server/maintenance.hpp"
#include "server/node_monitor.hpp"
#include "server/nodes_routes.hpp"
#include "server/routes.hpp"
#include "server/storage_setup.hpp"
#include "server/stream_context.hpp"
#include "server/stream_hub.hpp"
#include "server/tls_context.hpp"
#include "storage/database.hpp"
#include "storage/embedded_postgres.hpp"
#include "storage/group_commit_writer.hpp"
#include "storage/head_loader.hpp"
#include "storage/migrations.hpp"
#include "storage/series_registry.hpp"

namespace fs = std::filesystem;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace metricsd::server {
namespace {

int thread_count(const Settings& s) {
  if (s.threads > 0) return static_cast<int>(s.threads);
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

int serve(const Settings& s) {
  spdlog::info("metricsd {} ({}) starting", kVersion, kGitCommit);
  std::optional<TlsContext> tls;  // first: a bad certificate stops start-up at once
  try {
    if (!s.tls_cert_file.empty()) tls.emplace(s.tls_cert_file, s.tls_key_file);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  Storage st;
  if (int rc = open_storage(s, st); rc != 0) return rc;
  fs::path dir = absolute_data_dir(s);

  prom::Registry metrics;
  metrics.gauge("metricsd_build_info", "Build facts; always 1", {"version", "commit", "compiler"})
      .with({kVersion, kGitCommit, kCompiler})
      .set(1);
  metrics.gauge("process_start_time_seconds", "Start time of the process since the unix epoch")
      .get()
      .set(static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count()));

  storage::Database db(
      {st.conninfo, static_cast<int>(s.database_pool_size), s.database_read_url,
       static_cast<int>(s.database_read_pool_size), static_cast<int>(s.database_max_waiting),
       static_cast<int>(s.database_connect_timeout_ms), dir, static_cast<int>(s.query_timeout_ms)},
      metrics);
  LiveSettings live(s);  // what POST /api/v1/config/update may change
  storage::SeriesRegistry registry(s.limits_max_series, s.limits_max_series_per_node, metrics);
  Head head;
  metrics.gauge_fn("metricsd_head_samples", "Samples held in memory (not yet compacted)",
                   [&head] { return static_cast<double>(head.samples()); });
  metrics.gauge_fn("metricsd_head_series", "Series with samples or a latest value in memory",
                   [&head] { return static_cast<double>(head.series()); });
  // Rollup days for queries; a replica (read_url) may lag the commits that invalidate them.
  TierCache tier_cache(
      s.database_read_url.empty() ? static_cast<size_t>(s.query_cache_mb) * 1024 * 1024 : 0);
  metrics.gauge_fn("metricsd_query_cache_bytes", "Memory held by cached rollup days",
                   [&tier_cache] { return static_cast<double>(tier_cache.bytes()); });
  metrics.gauge_fn("metricsd_query_cache_entries",
                   "Rollup days cached (one entry: one series, one tier, one UTC day)",
                   [&tier_cache] { return static_cast<double>(tier_cache.days()); });
  metrics.gauge_fn("metricsd_query_cache_evictions",
                   "Cached rollup days evicted to stay within query.cache_mb since start",
                   [&tier_cache] { return static_cast<double>(tier_cache.evictions()); });
  db.on_ready([&registry, &head, &db, &tier_cache](pqxx::connection& c) {
    tier_cache.clear();
    registry.load(c);
    storage::PgConnection pg(db.conninfo());
    size_t n = storage::load_head(pg, head);
    spdlog::info("head rebuilt from the inbox: {} samples of {} series", n, head.series());
  });
  // The hub is declared before the writer, whose commit hook feeds it, so it outlives it.
  StreamMetrics stream_metrics(metrics);
  StreamHub hub(s, live, registry, head, stream_metrics);
  metrics.gauge_fn("metricsd_stream_clients", "Open /ws/metrics connections",
                   [&hub] { return static_cast<double>(hub.clients()); });
  storage::GroupCommitWriter writer(
      {st.conninfo, s.ingest_max_queue_samples,
       /*max_commit_samples=*/4'000'000, static_cast<int>(s.database_connect_timeout_ms)},
      metrics);
  RateWindow ingest_rate;  // committed samples per second, for /api/v1/summary
  // Committed samples enter the head before their requests are answered, then the stream
  // hub (which only copies them: the writer thread never waits on a client).
  writer.set_commit_hook([&head, &ingest_rate, &hub](const storage::CommittedBatch& b) {
    uint64_t n = 0;
    for (const auto* part : *b.parts) {
      head.append(part->series_ids, part->ts_ms, part->values);
      n += part->values.size();
    }
    ingest_rate.add(n, RateWindow::now_s());
    hub.publish(b);
  });
  int threads = thread_count(s);
  asio::io_context ioc(threads);
  std::optional<CorsPolicy> cors;
  try {
    cors.emplace(s.http_cors_origins);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  Authenticator auth(ioc, s, db, metrics);
  if (!auth.enabled())
    spdlog::warn("auth.mode=disabled: every request is served without a token (loopback only)");
  api::OpsHandlers ops(db, metrics);
  api::IngestHandlers ingest(s, live, db, registry, writer, metrics);
  ingest.set_sample_admission(
      [&auth](const api::Request& r, size_t n) { auth.charge_samples(r, n); });
  ingest.on_node_online(
      [&hub](const std::string& node, std::string_view from, int64_t last_seen_ms) {
        hub.publish_node(node, from, "online", last_seen_ms,
                         from == "new" ? "node_registered" : "node_status");
      });
  api::EventsHandlers events(db);
  api::QueryHandlers query(db, registry, head, tier_cache, s.query_timeout_ms, metrics);
  Router router;
  Handlers handlers{ops, ingest, events, query};
  register_routes(router, handlers);
  api::NodesHandlers nodes(db, registry, head, ingest_rate, metrics);
  register_nodes_routes(router, nodes);
  api::TokenHandlers tokens(db, [&auth](int64_t id) { auth.forget(id); });
  api::CommandHandlers commands(db);
  api::ConfigHandlers config(db, live);
  register_control_routes(router, tokens, commands, config);

  // /ws/metrics: the upgrade is authorized (role viewer) by `auth` before the handshake.
  StreamContext stream_ctx{s, hub, stream_metrics, &auth};
  HttpServer server(ioc, s, router, auth, *cors, metrics, &stream_ctx);
  try {
    if (tls) server.set_tls(&*tls);
    server.listen();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  NodeMonitor monitor(ioc, db, live, metrics);
  monitor.on_transition(
      [&hub](const std::string& node, std::string_view from, NodeStatus to, int64_t last_seen_ms) {
        hub.publish_node(node, from, to_string(to), last_seen_ms);
      });
  Maintenance maintenance(ioc, db, head, tier_cache, s, live, metrics);
  db.start();
  writer.start();
  hub.start();
  monitor.start();
  maintenance.start();
  auth.start();
  server.start();
  spdlog::info("listening on {}://{} ({} io threads, data_dir {})", tls ? "https" : "http",
               server.local_address(), threads, dir.string());
  sd_notify(0, "READY=1");

  // SIGHUP reloads the TLS certificate, off the io threads (it reads files).
  asio::signal_set hangup(ioc, SIGHUP);
  std::thread reloader;
  std::function<void(const boost::system::error_code&, int)> on_hangup;
  on_hangup = [&](const boost::system::error_code& ec, int) {
    if (ec) return;
    spdlog::info("SIGHUP: {}", tls ? "reloading the TLS certificate" : "nothing to reload");
    if (tls) {
      if (reloader.joinable()) reloader.join();
      reloader = std::thread([&tls] {
        name_this_thread("md-tls-reload");
        tls->reload();
      });
    }
    hangup.async_wait(on_hangup);
  };
  hangup.async_wait(on_hangup);

  // Shutdown: the first SIGTERM/SIGINT drains, a second one exits at once.
  asio::signal_set signals(ioc, SIGTERM, SIGINT);
  auto work = asio::make_work_guard(ioc);
  bool shutting_down = false;
  std::atomic<std::chrono::steady_clock::time_point> force_stop_at{
      std::chrono::steady_clock::time_point::max()};
  std::function<void(const boost::system::error_code&, int)> on_signal;
  on_signal = [&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    if (shutting_down) {
      spdlog::warn("second signal ({}): exiting now", sig);
      if (st.embedded) st.embedded->abort_now();
      std::_Exit(1);
    }
    shutting_down = true;
    spdlog::info("signal {}: shutting down (in-flight requests may take {} ms)", sig,
                 s.shutdown_grace_ms);
    sd_notify(0, "STOPPING=1");
    signals.async_wait(on_signal);
    hangup.cancel();
    server.begin_shutdown();
    hub.close_all(1001, "shutdown");  // WebSocket clients: going away
    monitor.stop();
    maintenance.stop();
    auth.stop();
    asio::co_spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
          auto deadline =
              std::chrono::steady_clock::now() + std::chrono::milliseconds(s.shutdown_grace_ms);
          asio::steady_timer t(ioc);
          while (server.active_connections() > 0 && std::chrono::steady_clock::now() < deadline) {
            t.expires_after(20ms);
            co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
          }
          if (server.active_connections() > 0) {
            spdlog::warn("{} connections still busy after the grace period; closing them",
                         server.active_connections());
            server.close_all();
          }
          // Now run() returns once the last completions are delivered; storage work that
          // never completes must not hold the exit, so the main loop stops it after 2 s.
          force_stop_at = std::chrono::steady_clock::now() + 2s;
          signals.cancel();
          work.reset();
        },
        asio::detached);
  };
  signals.async_wait(on_signal);

  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i)
    pool.emplace_back([&] {
      name_this_thread("md-io");
      ioc.run();
    });
  while (!ioc.stopped()) {
    ioc.run_for(100ms);
    if (std::chrono::steady_clock::now() > force_stop_at.load()) {
      spdlog::warn("work still pending 2 s after the drain; stopping anyway");
      ioc.stop();
    }
  }
  for (auto& t : pool)
    t.join();
  if (reloader.joinable()) reloader.join();
  hub.stop();

  db.stop();
  if (st.embedded) {
    st.embedded->stop(5s);
    spdlog::info("embedded postgres stopped");
  }
  spdlog::info("metricsd stopped");
  return 0;
}

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
