// The embedded PostgreSQL cluster; see embedded_postgres.hpp.
#include "storage/embedded_postgres.hpp"

#include <fcntl.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <memory>
#include <pqxx/pqxx>
#include <stdexcept>
#include <thread>

#include "storage/child_process.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace metricsd::storage {
namespace {

constexpr int kSocketPort = 5432;
constexpr size_t kMaxSocketPath = 107;  // sun_path minus the terminating NUL
constexpr std::uintmax_t kRotateLogBytes = 16u << 20;

// PostgreSQL's listen_addresses: none, the tests' loopback, or the SQL readers' host
// (an IPv6 address without its brackets).
std::string listen_addresses(const EmbeddedPostgres::Options& o) {
  if (o.tcp_port > 0) return "127.0.0.1";
  std::string host = o.sql_listen_host;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return host;
}

std::string read_command_output(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  if (!p) return {};
  std::string out;
  char buf[256];
  while (fgets(buf, sizeof buf, p.get()))
    out += buf;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
    out.pop_back();
  return out;
}

bool has_server_binaries(const fs::path& dir) {
  return fs::exists(dir / "postgres") && fs::exists(dir / "initdb");
}

bool process_alive(pid_t pid) {
  return kill(pid, 0) == 0 || errno == EPERM;
}

std::string process_cmdline(pid_t pid) {
  std::ifstream f(fmt::format("/proc/{}/cmdline", pid), std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  for (char& c : s)
    if (c == '\0') c = ' ';
  return s;
}

// Waits for a process that is not our child to end.
bool wait_gone(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (process_alive(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

}  // namespace

EmbeddedPostgres::EmbeddedPostgres(Options options) : options_(std::move(options)) {}

EmbeddedPostgres::~EmbeddedPostgres() {
  if (running()) stop(3s);
}

fs::path EmbeddedPostgres::find_bindir() {
  fs::path fromconfig = read_command_output("pg_config --bindir 2>/dev/null");
  if (!fromconfig.empty() && has_server_binaries(fromconfig)) return fromconfig;
  fs::path best;
  int best_version = -1;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    int version = std::atoi(entry.path().filename().c_str());
    if (version > best_version && has_server_binaries(entry.path() / "bin")) {
      best_version = version;
      best = entry.path() / "bin";
    }
  }
  if (best.empty())
    throw std::runtime_error(
        "no PostgreSQL server binaries found (looked at `pg_config --bindir` and "
        "/usr/lib/postgresql/*/bin); install postgresql-15 or set database.url");
  return best;
}

std::string EmbeddedPostgres::conninfo() const {
  return conninfo(options_.database);
}

std::string EmbeddedPostgres::conninfo(const std::string& dbname) const {
  if (options_.tcp_port > 0)
    return fmt::format("host=127.0.0.1 port={} user=postgres dbname={}", options_.tcp_port, dbname);
  return fmt::format("host={} port={} user=postgres dbname={}", socket_dir().string(), port(),
                     dbname);
}

int EmbeddedPostgres::port() const {
  if (options_.tcp_port > 0) return options_.tcp_port;
  return options_.sql_listen_host.empty() ? kSocketPort : options_.sql_listen_port;
}

void EmbeddedPostgres::start() {
  bindir_ = find_bindir();
  if (geteuid() == 0) {
    struct passwd* pw = getpwnam("postgres");
    if (!pw)
      throw std::runtime_error(
          "metricsd runs as root and there is no `postgres` system user to run the embedded "
          "PostgreSQL (install postgresql-15, or run metricsd as an ordinary user)");
    as_postgres_user_ = true;
    pg_uid_ = pw->pw_uid;
    pg_gid_ = pw->pw_gid;
  }
  if (options_.tcp_port > 0 && !options_.sql_listen_host.empty())
    throw std::logic_error("EmbeddedPostgres: tcp_port and sql_listen_host together");
  auto socket_path = (socket_dir() / (".s.PGSQL." + std::to_string(port()))).string();
  if (options_.tcp_port == 0 && socket_path.size() > kMaxSocketPath)
    throw std::runtime_error(fmt::format(
        "data_dir {} is too long for PostgreSQL's unix socket path ({} > {} bytes); use a "
        "shorter data_dir",
        options_.data_dir.string(), socket_path.size(), kMaxSocketPath));
  prepare_dirs();
  if (!fs::exists(pgdata() / "PG_VERSION")) initdb();
  recover_leftover();
  if (!options_.sql_listen_host.empty()) write_sql_hba();
  spawn_server();
  wait_until_ready();
  create_database();
}

// Replaces initdb's pg_hba.conf while SQL readers may connect (hba_file points here): the
// unix socket as before (trust: only this user reaches its 0700 directory), and over TCP
// the reader role alone, to its database alone, by scram-sha-256 (a client that offers
// only md5 or a clear-text password is refused). Any other TCP connection matches no line
// and is refused. Rewritten at every start, so the settings stay the only source.
void EmbeddedPostgres::write_sql_hba() {
  std::string text = fmt::format(
      "# Written by metricsd at each start (database.embedded_sql_listen); edits are lost.\n"
      "local all all trust\n"
      "local replication all trust\n"
      "host {} {} all scram-sha-256\n",
      options_.database, options_.sql_reader_role);
  fs::path file = sql_hba_file();
  {
    std::ofstream f(file, std::ios::trunc);
    f << text;
    if (!f.flush()) throw std::runtime_error("cannot write " + file.string());
  }
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  if (as_postgres_user_ && chown(file.c_str(), pg_uid_, pg_gid_) != 0)
    throw std::runtime_error("cannot hand " + file.string() + " to the postgres user");
}

void EmbeddedPostgres::prepare_dirs() {
  fs::create_directories(options_.data_dir);
  fs::create_directories(socket_dir());
  fs::permissions(socket_dir(), fs::perms::owner_all, fs::perm_options::replace);
  if (as_postgres_user_) {
    if (chown(socket_dir().c_str(), pg_uid_, pg_gid_) != 0)
      throw std::runtime_error("cannot hand " + socket_dir().string() + " to the postgres user");
    // PostgreSQL must reach its directory through every parent.
    SpawnOptions probe;
    probe.argv = {"/usr/bin/test", "-w", socket_dir().string()};
    probe.drop_privileges = true;
    probe.uid = pg_uid_;
    probe.gid = pg_gid_;
    if (run_process(probe) != 0)
      throw std::runtime_error(fmt::format(
          "the postgres system user cannot reach data_dir {} (a parent directory is not "
          "searchable by others); choose a data_dir under /var/lib or /tmp, or set database.url",
          options_.data_dir.string()));
  }
}

void EmbeddedPostgres::initdb() {
  fs::path tmp = options_.data_dir / "postgres.initdb-tmp";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  fs::permissions(tmp, fs::perms::owner_all, fs::perm_options::replace);
  if (as_postgres_user_ && chown(tmp.c_str(), pg_uid_, pg_gid_) != 0)
    throw std::runtime_error("cannot hand " + tmp.string() + " to the postgres user");
  fs::path log = options_.data_dir / "initdb.log";
  int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  SpawnOptions o;
  o.argv = {(bindir_ / "initdb").string(),
            "-D",
            tmp.string(),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-locale",
            "--data-checksums",  // a torn or corrupted page is found, not read as data
            "--auth-local=trust",
            std::string("--auth-host=") + (options_.tcp_port > 0 ? "trust" : "reject")};
  o.drop_privileges = as_postgres_user_;
  o.uid = pg_uid_;
  o.gid = pg_gid_;
  o.output_fd = fd;
  spdlog::info("embedded postgres: creating a new cluster in {}", pgdata().string());
  int rc = run_process(o);
  if (fd >= 0) close(fd);
  if (rc != 0) {
    std::ifstream f(log);
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    throw std::runtime_error(fmt::format("initdb failed (exit code {}), see {}: {}", rc,
                                         log.string(), text.substr(0, 2000)));
  }
  fs::rename(tmp, pgdata());
  fs::remove(log);
}

void EmbeddedPostgres::recover_leftover() {
  fs::path pidfile = pgdata() / "postmaster.pid";
  std::ifstream f(pidfile);
  if (!f) return;
  pid_t old = 0;
  f >> old;
  f.close();
  if (old <= 0 || !process_alive(old)) return;  // stale: PostgreSQL clears it itself
  std::string cmd = process_cmdline(old);
  if (cmd.find("postgres") == std::string::npos ||
      cmd.find(pgdata().string()) == std::string::npos) {
    spdlog::warn(
        "embedded postgres: {} names pid {}, which is not this cluster's server; removing it",
        pidfile.string(), old);
    fs::remove(pidfile);
    return;
  }
  spdlog::warn("embedded postgres: stopping PostgreSQL (pid {}) left over from an earlier run",
               old);
  kill(old, SIGINT);
  kill(old, SIGCONT);  // a stopped server cannot act on the request otherwise
  if (wait_gone(old, 10s)) return;
  kill(old, SIGQUIT);
  if (wait_gone(old, 5s)) return;
  kill(old, SIGKILL);
  if (!wait_gone(old, 5s))
    throw std::runtime_error(fmt::format("leftover PostgreSQL pid {} does not stop", old));
}

void EmbeddedPostgres::spawn_server() {
  fs::path log = options_.data_dir / "postgres.log";
  std::error_code ec;
  if (fs::file_size(log, ec) > kRotateLogBytes) fs::rename(log, log.string() + ".1", ec);
  int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) throw std::runtime_error("cannot open " + log.string());
  SpawnOptions o;
  o.argv = {(bindir_ / "postgres").string(),
            "-D",
            pgdata().string(),
            "-c",
            "unix_socket_directories=" + socket_dir().string(),
            "-c",
            "unix_socket_permissions=0700",
            "-c",
            "port=" + std::to_string(port()),
            "-c",
            "listen_addresses=" + listen_addresses(options_),
            "-c",
            "logging_collector=off",
            "-c",
            "log_min_messages=warning"};
  if (!options_.sql_listen_host.empty())
    for (std::string s : {"hba_file=" + sql_hba_file().string(),
                          std::string("password_encryption=scram-sha-256")}) {
      o.argv.push_back("-c");
      o.argv.push_back(s);
    }
  for (const auto& s : options_.settings) {
    o.argv.push_back("-c");
    o.argv.push_back(s);
  }
  o.drop_privileges = as_postgres_user_;
  o.uid = pg_uid_;
  o.gid = pg_gid_;
  o.output_fd = fd;
  // SIGQUIT is PostgreSQL's immediate shutdown: if metricsd dies, so does its server.
  o.parent_death_signal = SIGQUIT;
  // PostgreSQL speaks sd_notify itself; only metricsd may tell systemd it is ready.
  o.env_remove = {"NOTIFY_SOCKET"};
  pid_ = spawn_process(o);
  close(fd);
}

void EmbeddedPostgres::wait_until_ready() {
  std::string ping = conninfo("postgres") + " connect_timeout=2";
  auto deadline = std::chrono::steady_clock::now() + 120s;
  for (;;) {
    if (PQping(ping.c_str()) == PQPING_OK) return;
    if (auto status = wait_process(pid_, 0ms)) {
      pid_ = -1;
      throw std::runtime_error(fmt::format("embedded PostgreSQL exited during start-up ({}): {}",
                                           describe_wait_status(*status), log_tail()));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      stop(2s);
      throw std::runtime_error("embedded PostgreSQL did not accept connections within 120 s: " +
                               log_tail());
    }
    std::this_thread::sleep_for(50ms);
  }
}

std::optional<std::string> EmbeddedPostgres::reap() {
  if (pid_ <= 0) return std::nullopt;
  auto status = wait_process(pid_, 0ms);
  if (!status) return std::nullopt;
  pid_ = -1;
  return describe_wait_status(*status);
}

void EmbeddedPostgres::restart() {
  if (pid_ > 0) return;
  recover_leftover();
  spawn_server();
  wait_until_ready();
}

void EmbeddedPostgres::create_database() {
  pqxx::connection c(conninfo("postgres"));
  pqxx::nontransaction tx(c);
  if (tx.exec_params("SELECT 1 FROM pg_database WHERE datname = $1", options_.database).empty())
    tx.exec("CREATE DATABASE " + tx.quote_name(options_.database));
}

std::string EmbeddedPostgres::log_tail() const {
  std::ifstream f(options_.data_dir / "postgres.log");
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (text.size() > 1500) text = text.substr(text.size() - 1500);
  return text;
}

void EmbeddedPostgres::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return;
  kill(pid_, SIGINT);  // fast shutdown: roll back open transactions, checkpoint, exit
  auto status = wait_process(pid_, grace);
  if (!status) {
    spdlog::warn("embedded postgres: no exit after {} ms, immediate shutdown", grace.count());
    kill(pid_, SIGQUIT);
    status = wait_process(pid_, 3s);
  }
  if (!status) {
    kill(pid_, SIGKILL);
    status = wait_process(pid_, 3s);
  }
  pid_ = -1;
}

void EmbeddedPostgres::abort_now() {
  if (pid_ > 0) kill(pid_, SIGQUIT);
}

}  // namespace metricsd::storage
