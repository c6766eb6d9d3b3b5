// EmbeddedPostgres: the PostgreSQL cluster metricsd runs for itself when no database.url
// is set. It lives under <data_dir>/postgres, listens only on a unix socket in
// <data_dir>/run (or also on a TCP address for read-only SQL users, or on a loopback TCP
// port for tests), runs as the `postgres`
// system user when metricsd is root, and is started as a direct child with a
// parent-death signal so it stops even when metricsd is killed. A PostgreSQL left over
// from a crashed run is stopped and recovered on the next start.
//
// Not thread-safe: start() and stop() belong to the thread that created the object,
// which must live as long as the cluster runs (the parent-death signal is tied to it).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace metricsd::storage {

class EmbeddedPostgres {
 public:
  struct Options {
    std::filesystem::path data_dir;     // absolute
    int tcp_port = 0;                   // 0: unix socket only
    std::vector<std::string> settings;  // extra "name=value" server settings
    std::string database = "metricsd";  // created on first start
    // database.embedded_sql_listen: also listen on this host and port (which the unix
    // socket then shares), where pg_hba admits only `sql_reader_role` to `database`, by
    // scram-sha-256. Empty host: unix socket only. Not together with tcp_port.
    std::string sql_listen_host;
    int sql_listen_port = 0;
    std::string sql_reader_role = "metricsd_reader";
  };

  explicit EmbeddedPostgres(Options options);
  ~EmbeddedPostgres();
  EmbeddedPostgres(const EmbeddedPostgres&) = delete;
  EmbeddedPostgres& operator=(const EmbeddedPostgres&) = delete;

  // initdb on first start, recover leftovers, start, wait until it answers, create the
  // database. Throws std::runtime_error with a message a user can act on.
  void start();
  // Fast shutdown; immediate after `grace`; SIGKILL as a last resort.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(8));
  // Immediate shutdown without waiting (forced exit path).
  void abort_now();

  // Supervision, from the thread that called start(). reap(): when the server has exited
  // (killed, crashed, or given up after a PANIC it could not recover from), how it ended
  // ("killed by signal 9"); nullopt while it runs. restart(): starts it again (PostgreSQL's
  // crash recovery runs); throws like start() when it cannot come up.
  std::optional<std::string> reap();
  void restart();

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  std::string conninfo() const;  // libpq key=value string
  std::string conninfo(const std::string& dbname) const;
  std::filesystem::path pgdata() const { return options_.data_dir / "postgres"; }
  std::filesystem::path socket_dir() const { return options_.data_dir / "run"; }

  // Directory with initdb and postgres: `pg_config --bindir`, else the newest
  // /usr/lib/postgresql/*/bin. Throws when none is found.
  static std::filesystem::path find_bindir();

 private:
  void prepare_dirs();
  void initdb();
  void recover_leftover();
  void spawn_server();
  void wait_until_ready();
  void create_database();
  void write_sql_hba();
  int port() const;
  std::filesystem::path sql_hba_file() const { return pgdata() / "pg_hba.metricsd.conf"; }
  std::string log_tail() const;

  const Options options_;
  std::filesystem::path bindir_;
  bool as_postgres_user_ = false;  // metricsd is root: run PostgreSQL as `postgres`
  uid_t pg_uid_ = 0;
  gid_t pg_gid_ = 0;
  pid_t pid_ = -1;
};

}  // namespace metricsd::storage
