// The composition root; see app.hpp.
#include "server/app.hpp"

#include <systemd/sd-daemon.h>

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <csignal>
#include <future>
#include <thread>
#include <vector>

#include "api/disk_refusal.hpp"
#include "api/endpoints.hpp"
#include "core/commit_fanout.hpp"
#include "core/commit_gate.hpp"
#include "core/disk_watermark.hpp"
#include "core/head.hpp"
#include "core/live_settings.hpp"
#include "core/rate_window.hpp"
#include "core/thread_name.hpp"
#include "core/tier_cache.hpp"
#include "core/version.hpp"
#include "ingest/ingest_service.hpp"
#include "server/address_filter.hpp"
#include "server/alert_service.hpp"
#include "server/alert_settings.hpp"
#include "server/auth.hpp"
#include "server/cors.hpp"
#include "server/disk_watch.hpp"
#include "server/http_server.hpp"
#include "server/logging.hpp"
#include "server/maintenance.hpp"
#include "server/node_monitor.hpp"
#include "server/pg_supervisor.hpp"
#include "server/routes.hpp"
#include "server/stream_context.hpp"
#include "server/stream_hub.hpp"
#include "storage/database.hpp"
#include "storage/group_commit_writer.hpp"
#include "storage/head_loader.hpp"
#include "storage/series_registry.hpp"
#include "storage/sql_reader.hpp"

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace metricsd::server {
namespace {

int thread_count(const Settings& s) {
  if (s.threads > 0) return static_cast<int>(s.threads);
  return std::max(1u, std::thread::hardware_concurrency());
}

storage::Database::Options database_options(const Settings& s, const std::string& conninfo,
                                            const std::filesystem::path& dir) {
  return {conninfo,
          static_cast<int>(s.database_pool_size),
          s.database_read_url,
          static_cast<int>(s.database_read_pool_size),
          static_cast<int>(s.database_max_waiting),
          static_cast<int>(s.database_connect_timeout_ms),
          dir,
          static_cast<int>(s.query_timeout_ms)};
}

// Rollup days for queries; a replica (read_url) may lag the commits that invalidate them,
// so with one nothing is cached.
size_t query_cache_bytes(const Settings& s) {
  return s.database_read_url.empty() ? static_cast<size_t>(s.query_cache_mb) * 1024 * 1024 : 0;
}

AlertServiceOptions alert_options(const Settings& s, const std::string& conninfo,
                                  storage::Database& db) {
  AlertServiceOptions o = alert_service_options(s, conninfo);
  o.ready = [&db] { return db.ready(); };
  return o;
}

}  // namespace

// Every component, in dependency order: each member may use those declared above it.
struct App::Parts {
  Parts(const Settings& s, const std::string& conninfo, const std::filesystem::path& dir)
      : settings(s),
        db(database_options(s, conninfo, dir), metrics),
        live(s),
        disk(s.disk_min_free_bytes),
        disk_watch(disk_watch_paths(s, dir), std::chrono::milliseconds(s.disk_check_interval_ms),
                   disk, metrics),
        registry(s.limits_max_series, s.limits_max_series_per_node, metrics),
        tier_cache(query_cache_bytes(s)),
        fanout(metrics),
        stream_metrics(metrics),
        hub(s, live, registry, head, stream_metrics),
        writer({conninfo, s.ingest_max_queue_samples,
                /*max_commit_samples=*/4'000'000, static_cast<int>(s.database_connect_timeout_ms)},
               fanout, commit_gate, metrics),
        io_threads(thread_count(s)),
        ioc(io_threads),
        cors(s.http_cors_origins),
        auth(ioc, s, db, metrics),
        ingest(db, registry, writer, fanout, commit_gate, metrics),
        ops(db, metrics, &disk),
        ingest_api(s, live, registry, ingest, auth, metrics),
        events(db),
        query(db, registry, head, tier_cache, s.query_timeout_ms, metrics),
        nodes(db, registry, head, ingest_rate, metrics),
        tokens(db, [this](int64_t id) { auth.forget(id); }),
        commands(db),
        config(db, live),
        alert_service(alert_options(s, conninfo, db), registry, metrics),
        alerts(db, registry,
               {[this] { alert_service.rules_changed(); },
                [this](int64_t rule, const std::string& node, const std::string& by) {
                  alert_service.acknowledged(rule, node, by);
                },
                !s.alerts_smtp_url.empty()}),
        admin(db, registry, head, tier_cache, commit_gate, metrics),
        influx(metrics),
        endpoints{ops,      ingest_api, events, query, nodes, tokens,
                  commands, config,     alerts, admin, influx},
        stream_ctx{s, hub, stream_metrics, &auth},
        address_filter(live, metrics),
        server(ioc, s, router, auth, cors, metrics, &stream_ctx),
        monitor(ioc, db, live, fanout, metrics),
        maintenance(ioc, db, head, tier_cache, s, live, metrics, &disk),
        signals(ioc, SIGTERM, SIGINT),
        hangup(ioc, SIGHUP) {
    register_routes(router, endpoints, [this](const api::Request&) {
      return api::refuse_write_on_full_disk(disk, ingest);
    });
    register_metrics();
    server.set_address_filter(&address_filter);
    hub.set_alerts_source([this] { return alert_service.snapshot(); });
    alert_service.on_stream_message([this](std::string node, std::string message) {
      hub.publish_alert(node, std::move(message));
    });
    subscribe_to_commits();
    db.on_ready([this](pqxx::connection& c) { load_caches(c); });
  }

  void register_metrics();
  void subscribe_to_commits();
  void load_caches(pqxx::connection& c);

  const Settings& settings;
  prom::Registry metrics;
  storage::Database db;  // the pools and the start-up task
  LiveSettings live;     // what POST /api/v1/config/update may change
  DiskWatermark disk;    // below it writes are refused (507) and compaction waits
  DiskWatch disk_watch;  // feeds `disk` from its own thread
  storage::SeriesRegistry registry;
  Head head;
  TierCache tier_cache;
  RateWindow ingest_rate;  // committed samples per second, for /api/v1/summary
  CommitFanout fanout;
  CommitGate commit_gate;  // orders series deletions against commits (core/commit_gate.hpp)
  StreamMetrics stream_metrics;
  StreamHub hub;
  storage::GroupCommitWriter writer;
  const int io_threads;
  asio::io_context ioc;
  CorsPolicy cors;
  Authenticator auth;
  ingest::IngestService ingest;
  api::OpsHandlers ops;
  api::IngestHandlers ingest_api;
  api::EventsHandlers events;
  api::QueryHandlers query;
  api::NodesHandlers nodes;
  api::TokenHandlers tokens;
  api::CommandHandlers commands;
  api::ConfigHandlers config;
  AlertService alert_service;
  api::AlertHandlers alerts;
  api::AdminHandlers admin;
  api::InfluxCompatHandlers influx;
  api::Endpoints endpoints;
  Router router;
  StreamContext stream_ctx;      // /ws/metrics: the upgrade is authorized by `auth`
  AddressFilter address_filter;  // the network.* lists, read from `live`
  HttpServer server;
  NodeMonitor monitor;
  Maintenance maintenance;
  asio::signal_set signals;       // SIGTERM, SIGINT
  asio::signal_set hangup;        // SIGHUP
  std::thread tls_reloader;       // SIGHUP's certificate reload (it reads files)
  std::vector<std::thread> pool;  // the io threads
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::promise<void> shutdown_requested;
  bool shutting_down = false;  // io context only (signal handlers)
};

void App::Parts::register_metrics() {
  metrics.gauge("metricsd_build_info", "Build facts; always 1", {"version", "commit", "compiler"})
      .with({kVersion, kGitCommit, kCompiler})
      .set(1);
  metrics.gauge("process_start_time_seconds", "Start time of the process since the unix epoch")
      .get()
      .set(static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count()));
  metrics.counter_fn("metricsd_log_messages_dropped_total",
                     "Log messages dropped because stderr could not keep up (log.queue_messages)",
                     [] { return static_cast<double>(log_messages_dropped()); });
  metrics.gauge_fn("metricsd_head_samples", "Samples held in memory (not yet compacted)",
                   [this] { return static_cast<double>(head.samples()); });
  metrics.gauge_fn("metricsd_head_series", "Series with samples or a latest value in memory",
                   [this] { return static_cast<double>(head.series()); });
  metrics.gauge_fn("metricsd_head_bytes",
                   "Memory held by the head's samples (sealed blocks, open samples, index)",
                   [this] { return static_cast<double>(head.bytes()); });
  metrics.gauge_fn("metricsd_query_cache_bytes", "Memory held by cached rollup days",
                   [this] { return static_cast<double>(tier_cache.bytes()); });
  metrics.gauge_fn("metricsd_query_cache_entries",
                   "Rollup days cached (one entry: one series, one tier, one UTC day)",
                   [this] { return static_cast<double>(tier_cache.days()); });
  metrics.gauge_fn("metricsd_query_cache_evictions",
                   "Cached rollup days evicted to stay within query.cache_mb since start",
                   [this] { return static_cast<double>(tier_cache.evictions()); });
  metrics.gauge_fn("metricsd_stream_clients", "Open /ws/metrics connections",
                   [this] { return static_cast<double>(hub.clients()); });
}

// The consumers of committed data. Samples enter the head before their requests are
// answered (a read after a write sees it), then the rate and the stream hub (which only
// copies them into its bounded queue).
void App::Parts::subscribe_to_commits() {
  fanout.on_samples("head", [this](const CommittedBatch& b) {
    for (const auto* part : b.parts)
      head.append(part->series_ids, part->ts_ms, part->values);
    return size_t{0};
  });
  fanout.on_samples("ingest_rate", [this](const CommittedBatch& b) {
    ingest_rate.add(b.samples(), RateWindow::now_s());
    return size_t{0};
  });
  fanout.on_samples("stream", [this](const CommittedBatch& b) { return hub.publish(b); });
  fanout.on_node_status("stream",
                        [this](const NodeStatusChange& c) { return hub.publish_node(c); });
  fanout.on_node_event("stream", [this](const NodeEvent& e) { return hub.publish_event(e); });
  fanout.on_samples("alerts", [this](const CommittedBatch& b) { return alert_service.publish(b); });
  fanout.on_node_status(
      "alerts", [this](const NodeStatusChange& c) { return alert_service.publish_node(c); });
  fanout.seal();
}

// The database start-up task, after migrations: what memory mirrors of the database.
void App::Parts::load_caches(pqxx::connection& c) {
  tier_cache.clear();
  registry.load(c);
  storage::PgConnection pg(db.conninfo());
  size_t n = storage::load_head(pg, head);
  spdlog::info("head rebuilt from the inbox: {} samples of {} series", n, head.series());
}

App::App(const Settings& settings) : settings_(settings) {}

App::~App() {
  if (parts_ && parts_->tls_reloader.joinable()) parts_->tls_reloader.join();
  // A start refused after the marker was written (a port in use) is not a crash.
  if (run_marker_ && !started_) run_marker_->clean_exit();
}

int App::open() {
  spdlog::info("metricsd {} ({}) starting", kVersion, kGitCommit);
  try {
    if (!settings_.tls_cert_file.empty())
      tls_.emplace(settings_.tls_cert_file, settings_.tls_key_file);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  try {
    alert_service_options(settings_, "");  // checked before the database starts
  } catch (const SettingsError& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  if (int rc = open_storage(settings_, storage_); rc != 0) return rc;
  data_dir_ = absolute_data_dir(settings_);
  try {
    run_marker_.emplace(data_dir_);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  try {
    parts_ = std::make_unique<Parts>(settings_, storage_.conninfo, data_dir_);
  } catch (const std::exception& e) {  // settings only a component can check (CORS origins)
    spdlog::error("{}", e.what());
    return 2;
  }
  parts_->metrics
      .gauge("metricsd_previous_shutdown_unclean",
             "1 when the previous run of the daemon ended without its shutdown (killed, crashed)")
      .get()
      .set(run_marker_->previous_unclean() ? 1 : 0);
  parts_->metrics
      .gauge("metricsd_last_unclean_shutdown_timestamp_seconds",
             "When the last run that ended uncleanly was last seen alive (0: none known)")
      .get()
      .set(static_cast<double>(run_marker_->last_unclean_ms()) / 1000.0);
  if (storage_.embedded && !settings_.database_embedded_sql_listen.empty())
    parts_->db.on_ready([this](pqxx::connection& c) {
      storage::enable_sql_reader(c, storage_.conninfo, data_dir_,
                                 settings_.database_embedded_sql_listen);
    });
  if (!parts_->auth.enabled())
    spdlog::warn("auth.mode=disabled: every request is served without a token (loopback only)");
  try {
    if (tls_) parts_->server.set_tls(&*tls_);
    parts_->server.listen();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 0;
}

void App::start() {
  started_ = true;
  auto& p = *parts_;
  p.db.start();
  p.writer.start();
  p.hub.start();
  p.monitor.start();
  p.maintenance.start();
  p.disk_watch.start();  // its first check before the first request is accepted
  p.alert_service.start();
  p.auth.start();
  wait_hangup();
  wait_stop_signal();
  p.work.emplace(asio::make_work_guard(p.ioc));
  for (int i = 0; i < p.io_threads; ++i)
    p.pool.emplace_back([&p] {
      name_this_thread("md-io");
      p.ioc.run();
    });
  p.server.start();
  spdlog::info("listening on {}://{} ({} io threads, data_dir {})", tls_ ? "https" : "http",
               p.server.local_address(), p.io_threads, data_dir_.string());
  sd_notify(0, "READY=1");
}

// SIGHUP reloads the TLS certificate, off the io threads (it reads files), and the alert
// rules file (on the alert service's thread).
void App::wait_hangup() {
  parts_->hangup.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec) return;
    auto& p = *parts_;
    const bool rules = !settings_.alerts_rules_file.empty();
    spdlog::info("SIGHUP: {}{}", tls_ ? "reloading the TLS certificate" : "",
                 rules ? (tls_ ? " and the alert rules file" : "reloading the alert rules file")
                       : (tls_ ? "" : "nothing to reload"));
    if (rules) p.alert_service.reload_rules_file();
    if (tls_) {
      if (p.tls_reloader.joinable()) p.tls_reloader.join();
      p.tls_reloader = std::thread([this] {
        name_this_thread("md-tls-reload");
        tls_->reload();
      });
    }
    wait_hangup();
  });
}

// The first SIGTERM/SIGINT wakes the main thread to drain; a second one exits at once.
void App::wait_stop_signal() {
  parts_->signals.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    auto& p = *parts_;
    if (p.shutting_down) {
      spdlog::warn("second signal ({}): exiting now", sig);
      if (storage_.embedded) storage_.embedded->abort_now();
      flush_logging();
      std::_Exit(1);
    }
    p.shutting_down = true;
    spdlog::info("signal {}: shutting down (in-flight requests may take {} ms)", sig,
                 settings_.shutdown_grace_ms);
    p.shutdown_requested.set_value();
    wait_stop_signal();
  });
}

// The main thread waits for a stop signal and meanwhile supervises the embedded
// PostgreSQL (it started it: the server's parent-death signal is tied to this thread).
void App::wait_for_shutdown() {
  auto stop = parts_->shutdown_requested.get_future();
  std::optional<PgSupervisor> supervisor;
  if (storage_.embedded)
    supervisor.emplace(*storage_.embedded, parts_->db, parts_->metrics,
                       std::chrono::milliseconds(settings_.database_embedded_restart_timeout_ms));
  auto next_touch = std::chrono::steady_clock::now();
  while (stop.wait_for(200ms) != std::future_status::ready) {
    if (supervisor && !supervisor->poll()) {
      exit_code_ = 1;
      return;
    }
    if (std::chrono::steady_clock::now() >= next_touch) {
      run_marker_->touch();
      next_touch += 5s;
    }
  }
}

void App::drain() {
  auto& p = *parts_;
  sd_notify(0, "STOPPING=1");
  p.hangup.cancel();
  p.server.begin_shutdown();          // stop accepting; idle connections close
  p.hub.close_all(1001, "shutdown");  // WebSocket clients: going away
  p.monitor.stop();
  p.maintenance.stop();
  p.disk_watch.stop();
  p.auth.stop();
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(settings_.shutdown_grace_ms);
  // A bounded wait for the requests in flight to be answered (the server counts them).
  while (p.server.active_connections() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  if (p.server.active_connections() > 0) {
    spdlog::warn("{} connections still busy after the grace period; closing them",
                 p.server.active_connections());
    p.server.close_all();
  }
}

void App::stop() {
  auto& p = *parts_;
  // Whatever is still queued is committed (or refused) and its requests answered while
  // the io threads still run to deliver the answers.
  p.writer.stop();
  p.hub.stop();
  p.alert_service.stop();  // after the writer: it has seen every commit it will see
  p.db.stop();             // the pools: waiting work fails with Unavailable, on the io threads
  p.signals.cancel();
  p.work.reset();
  // run() returns once the last completions are delivered; storage work that never
  // completes must not hold the exit.
  auto deadline = std::chrono::steady_clock::now() + 2s;
  while (!p.ioc.stopped() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  if (!p.ioc.stopped()) {
    spdlog::warn("work still pending 2 s after the drain; stopping anyway");
    p.ioc.stop();
  }
  for (auto& t : p.pool)
    t.join();
  p.pool.clear();
  if (p.tls_reloader.joinable()) p.tls_reloader.join();
  if (storage_.embedded) {
    storage_.embedded->stop(5s);
    spdlog::info("embedded postgres stopped");
  }
  // Exit code 1 (the database could not be brought back) is not a clean end.
  if (exit_code_ == 0) run_marker_->clean_exit();
  spdlog::info("metricsd stopped");
}

int serve(const Settings& settings) {
  App app(settings);
  if (int rc = app.open(); rc != 0) return rc;
  app.start();
  app.wait_for_shutdown();
  app.drain();
  app.stop();
  return app.exit_code();
}

}  // namespace metricsd::server
