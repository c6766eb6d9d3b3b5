// Storage threads and their connections; see storage_pool.hpp.
#include "storage/storage_pool.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <optional>
#include "core/thread_name.hpp"

namespace metricsd::storage {

StoragePool::StoragePool(Options options, prom::Registry& metrics)
    : options_(std::move(options)),
      conninfo_(with_client_params(options_.conninfo, options_.connect_timeout_ms)),
      waiting_gauge_(metrics
                         .gauge("metricsd_storage_pool_waiting",
                                "Storage jobs waiting for a storage thread", {"pool"})
                         .with({options_.name})),
      in_use_gauge_(
          metrics.gauge("metricsd_storage_pool_in_use", "Storage threads running a job", {"pool"})
              .with({options_.name})),
      jobs_(metrics.counter("metricsd_storage_jobs_total", "Storage jobs run", {"pool"})
                .with({options_.name})),
      errors_(metrics.counter("metricsd_storage_errors_total",
                              "Storage failures by kind (connect, connection_lost, overloaded)",
                              {"pool", "kind"})) {
  metrics.gauge("metricsd_storage_pool_size", "Storage threads", {"pool"})
      .with({options_.name})
      .set(options_.threads);
}

StoragePool::~StoragePool() {
  stop();
}

std::string StoragePool::with_client_params(const std::string& conninfo, int connect_timeout_ms) {
  int timeout_s = std::max(1, connect_timeout_ms / 1000);
  bool is_url = conninfo.rfind("postgres://", 0) == 0 || conninfo.rfind("postgresql://", 0) == 0;
  std::string out = conninfo;
  auto add = [&](const std::string& key, const std::string& value) {
    if (conninfo.find(key + "=") != std::string::npos) return;
    if (is_url) {
      out += (out.find('?') == std::string::npos ? "?" : "&") + key + "=" + value;
    } else {
      out += (out.empty() ? "" : " ") + key + "=" + value;
    }
  };
  add("connect_timeout", std::to_string(timeout_s));
  add("application_name", "metricsd");
  return out;
}

std::string StoragePool::with_statement_timeout(const std::string& conninfo, int timeout_ms) {
  if (timeout_ms <= 0 || conninfo.find("options=") != std::string::npos) return conninfo;
  bool is_url = conninfo.rfind("postgres://", 0) == 0 || conninfo.rfind("postgresql://", 0) == 0;
  std::string ms = std::to_string(timeout_ms);
  if (is_url)
    return conninfo + (conninfo.find('?') == std::string::npos ? "?" : "&") +
           "options=-c%20statement_timeout%3D" + ms;
  return conninfo + (conninfo.empty() ? "" : " ") + "options='-c statement_timeout=" + ms + "'";
}

void StoragePool::start() {
  for (int i = 0; i < options_.threads; ++i)
    threads_.emplace_back([this] {
      name_this_thread("md-pg-" + options_.name);
      thread_main();
    });
}

void StoragePool::stop() {
  std::deque<Job> abandoned;
  {
    std::lock_guard lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    abandoned.swap(queue_);
    waiting_gauge_.set(0);
  }
  cv_.notify_all();
  auto err = std::make_exception_ptr(Unavailable("the daemon is shutting down"));
  for (auto& job : abandoned)
    job(nullptr, err);
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

bool StoragePool::submit(Job job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= static_cast<size_t>(options_.max_waiting)) {
      errors_.with({options_.name, "overloaded"}).inc();
      return false;
    }
    queue_.push_back(std::move(job));
    waiting_gauge_.set(static_cast<double>(queue_.size()));
  }
  cv_.notify_one();
  return true;
}

size_t StoragePool::waiting() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

std::exception_ptr StoragePool::translate(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const pqxx::broken_connection& b) {
    errors_.with({options_.name, "connection_lost"}).inc();
    if (!reported_down_.exchange(true))
      spdlog::warn("storage: connection to the database lost: {}", b.what());
    return std::make_exception_ptr(
        Unavailable(std::string("database connection lost: ") + b.what()));
  } catch (...) {
    return e;
  }
}

void StoragePool::thread_main() {
  std::optional<pqxx::connection> conn;
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left
      job = std::move(queue_.front());
      queue_.pop_front();
      waiting_gauge_.set(static_cast<double>(queue_.size()));
    }
    in_use_gauge_.add(1);
    ++in_use_;
    std::exception_ptr connect_error;
    if (!conn || !conn->is_open()) {
      conn.reset();
      try {
        conn.emplace(conninfo_);
        if (reported_down_.exchange(false)) spdlog::info("storage: database reachable again");
      } catch (const std::exception& e) {
        errors_.with({options_.name, "connect"}).inc();
        if (!reported_down_.exchange(true))
          spdlog::warn("storage: cannot connect to the database: {}", e.what());
        connect_error =
            std::make_exception_ptr(Unavailable(std::string("database unreachable: ") + e.what()));
      }
    }
    job(connect_error ? nullptr : &*conn, connect_error);
    jobs_.inc();
    --in_use_;
    in_use_gauge_.add(-1);
  }
}

}  // namespace metricsd::storage
