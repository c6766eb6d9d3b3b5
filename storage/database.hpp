// Database: the daemon's view of its PostgreSQL. It owns the storage pool and a start-up
// task that connects (retrying with backoff while the server is unreachable, saying why
// in the log), applies migrations and creates the first admin token. Until that has
// succeeded the daemon is not ready (/readyz answers 503 with the reason).
//
// Threads: start()/stop() from the thread that starts and stops the daemon. The start-up
// task runs on its own thread (startup_) and so do the on_ready callbacks: they run
// there, once per attempt until one succeeds, before ready() turns true; they may block on the
// database. ready()/schema_version() are atomics read from any thread; reason_ is
// guarded by mu_. The pools have threads of their own (storage/storage_pool.hpp).
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/prom.hpp"
#include "storage/storage_pool.hpp"

namespace metricsd::storage {

class Database {
 public:
  struct Options {
    std::string conninfo;
    int pool_size = 4;
    std::string read_conninfo;  // queries; empty = conninfo
    int read_pool_size = 2;
    int max_waiting = 1000;
    int connect_timeout_ms = 5000;
    std::filesystem::path data_dir;     // where the first admin token file goes
    int read_statement_timeout_ms = 0;  // every read-pool statement; 0: none
  };

  Database(Options options, prom::Registry& metrics);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs on the start-up connection after migrations, before the daemon reports ready
  // (e.g. loading caches). Call before start().
  void on_ready(std::function<void(pqxx::connection&)> fn) { on_ready_.push_back(std::move(fn)); }
  void start();  // starts the pool and the start-up task; returns at once
  void stop();   // stops both; idempotent

  bool ready() const { return ready_.load() && !suspended_.load(); }
  // The embedded server went down and is being restarted: not ready, saying why, until
  // resume(). (The pools reopen their connections by themselves once it answers.)
  void suspend(std::string reason);
  void resume();
  int schema_version() const { return schema_version_.load(); }
  std::string not_ready_reason() const;
  StoragePool& pool() { return pool_; }
  // Queries run here, so heavy reads never hold up writes, heartbeats or series creation.
  StoragePool& read_pool() { return read_pool_; }
  // The connection string (with client parameters) for paths with their own connection.
  std::string conninfo() const {
    return StoragePool::with_client_params(options_.conninfo, options_.connect_timeout_ms);
  }

 private:
  void startup_main();
  void set_reason(std::string reason);

  const Options options_;
  std::vector<std::function<void(pqxx::connection&)>> on_ready_;  // constant after start()
  StoragePool pool_;
  StoragePool read_pool_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> suspended_{false};
  std::atomic<int> schema_version_{0};

  mutable std::mutex mu_;  // guards reason_, suspend_reason_, stopping_
  std::condition_variable cv_;
  std::string reason_ = "starting";
  std::string suspend_reason_;
  bool stopping_ = false;
  std::thread startup_;
};

// Creates an admin token if the tokens table is empty, writing the secret to
// <data_dir>/admin.token (mode 0600). Returns true when it created one.
bool ensure_first_admin_token(pqxx::connection& c, const std::filesystem::path& data_dir);

}  // namespace metricsd::storage
