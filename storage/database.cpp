// Database start-up and readiness; see database.hpp.
#include "storage/database.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/thread_name.hpp"
#include "core/token.hpp"
#include "storage/migrations.hpp"

namespace fs = std::filesystem;

namespace metricsd::storage {
namespace {

constexpr const char* kAnyToken = "SELECT EXISTS (SELECT 1 FROM tokens)";
constexpr const char* kInsertAdmin =
    "INSERT INTO tokens (name, role, secret_hash) VALUES ('admin (first start)', 'admin', $1)";

std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  while (!s.empty() && s.back() == ' ')
    s.pop_back();
  return s;
}

void write_secret_file(const fs::path& path, const std::string& secret) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot write " + path.string());
  std::string line = secret + "\n";
  bool ok = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ok = fsync(fd) == 0 && ok;
  close(fd);
  if (!ok) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace

Database::Database(Options options, prom::Registry& metrics)
    : options_(std::move(options)),
      pool_({options_.conninfo, options_.pool_size, options_.max_waiting,
             options_.connect_timeout_ms, "main"},
            metrics),
      read_pool_(
          {StoragePool::with_statement_timeout(
               options_.read_conninfo.empty() ? options_.conninfo : options_.read_conninfo,
               options_.read_statement_timeout_ms),
           options_.read_pool_size, options_.max_waiting, options_.connect_timeout_ms, "read"},
          metrics) {
  metrics.gauge_fn("metricsd_database_ready",
                   "1 when the database answers and migrations are applied",
                   [this] { return ready() ? 1.0 : 0.0; });
  metrics.gauge_fn("metricsd_schema_version", "Applied schema migration version",
                   [this] { return schema_version_.load(); });
}

Database::~Database() {
  stop();
}

void Database::start() {
  pool_.start();
  read_pool_.start();
  startup_ = std::thread([this] {
    name_this_thread("md-db-startup");
    startup_main();
  });
}

void Database::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (startup_.joinable()) startup_.join();
  pool_.stop();
  read_pool_.stop();
}

std::string Database::not_ready_reason() const {
  std::lock_guard lock(mu_);
  return suspended_.load() ? suspend_reason_ : reason_;
}

void Database::suspend(std::string reason) {
  std::lock_guard lock(mu_);
  suspend_reason_ = std::move(reason);
  suspended_ = true;
}

void Database::resume() {
  std::lock_guard lock(mu_);
  suspended_ = false;
}

void Database::set_reason(std::string reason) {
  std::lock_guard lock(mu_);
  reason_ = std::move(reason);
}

void Database::startup_main() {
  auto backoff = std::chrono::milliseconds(250);
  std::string last_error;
  for (;;) {
    try {
      pqxx::connection c(
          StoragePool::with_client_params(options_.conninfo, options_.connect_timeout_ms));
      set_reason("applying migrations");
      int version = apply_migrations(c, embedded_migrations());
      schema_version_ = version;
      if (ensure_first_admin_token(c, options_.data_dir))
        spdlog::warn("created the first admin token; it is in {} (readable by this user only)",
                     (options_.data_dir / "admin.token").string());
      for (auto& fn : on_ready_)
        fn(c);
      ready_ = true;
      set_reason("");
      spdlog::info("database ready, schema version {}", version);
      return;
    } catch (const std::exception& e) {
      std::string msg = one_line(e.what());
      set_reason("database not ready: " + msg);
      if (msg != last_error)
        spdlog::warn("database not ready, retrying every {} ms at most: {}", 5000, msg);
      last_error = msg;
    }
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, backoff, [this] { return stopping_; })) return;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

bool ensure_first_admin_token(pqxx::connection& c, const fs::path& data_dir) {
  // Under the schema lock, so two daemons starting together create at most one.
  pqxx::nontransaction(c).exec_params("SELECT pg_advisory_lock($1)", kSchemaLockKey);
  struct Unlock {
    pqxx::connection& c;
    ~Unlock() {
      try {
        pqxx::nontransaction(c).exec_params("SELECT pg_advisory_unlock($1)", kSchemaLockKey);
      } catch (const std::exception&) {
      }
    }
  } unlock{c};
  pqxx::work tx(c);
  if (tx.exec(kAnyToken)[0][0].as<bool>()) return false;
  std::string secret = generate_token_secret();
  fs::path file = data_dir / "admin.token";
  fs::path tmp = data_dir / "admin.token.tmp";
  write_secret_file(tmp, secret);
  tx.exec_params(kInsertAdmin, hash_token_secret(secret));
  try {
    tx.commit();
  } catch (...) {
    fs::remove(tmp);
    throw;
  }
  fs::rename(tmp, file);
  return true;
}

}  // namespace metricsd::storage
