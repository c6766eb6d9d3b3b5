// The read-only SQL role; see sql_reader.hpp.
#include "storage/sql_reader.hpp"

#include <fcntl.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <fstream>
#include <memory>

#include "core/token.hpp"

namespace fs = std::filesystem;

namespace metricsd::storage {
namespace {

// What PUBLIC may do by default that a reader must not: create temporary tables in the
// database (and, before PostgreSQL 15, objects in schema public). The daemon connects as
// a superuser, which these do not restrict.
constexpr const char* kGrants = R"sql(
REVOKE TEMPORARY ON DATABASE {db} FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT CONNECT ON DATABASE {db} TO {role};
GRANT USAGE ON SCHEMA public TO {role};
GRANT SELECT ON metrics TO {role};
GRANT EXECUTE ON FUNCTION metrics_between(timestamptz, timestamptz, text, text) TO {role};
)sql";

// The SCRAM-SHA-256 verifier of `password`, computed by libpq on this side.
std::string scram_verifier(const std::string& conninfo, const std::string& password) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(conninfo.c_str()), &PQfinish);
  if (!conn || PQstatus(conn.get()) != CONNECTION_OK)
    throw std::runtime_error("SQL reader: cannot connect to compute the password verifier: " +
                             std::string(conn ? PQerrorMessage(conn.get()) : "out of memory"));
  char* v = PQencryptPasswordConn(conn.get(), password.c_str(), kSqlReaderRole, "scram-sha-256");
  if (!v)
    throw std::runtime_error("SQL reader: cannot compute the password verifier: " +
                             std::string(PQerrorMessage(conn.get())));
  std::string out(v);
  PQfreemem(v);
  return out;
}

}  // namespace

fs::path sql_reader_password_file(const fs::path& data_dir) {
  return data_dir / "sql-reader.password";
}

std::string load_or_create_sql_reader_password(const fs::path& file) {
  if (fs::exists(file)) {
    std::ifstream f(file);
    std::string password;
    if (!f || !std::getline(f, password) || password.empty())
      throw std::runtime_error(fmt::format(
          "SQL reader: cannot read a password from {} (remove it to have a new one made)",
          file.string()));
    return password;
  }
  // 256 random bits, base64url: nothing a connection string or Grafana must escape.
  std::string password = generate_token_secret().substr(4);
  fs::path tmp = file.string() + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("SQL reader: cannot write " + tmp.string());
  std::string line = password + "\n";
  bool ok = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ok = fsync(fd) == 0 && ok;
  close(fd);
  if (!ok) throw std::runtime_error("SQL reader: cannot write " + tmp.string());
  fs::rename(tmp, file);
  return password;
}

void ensure_sql_reader(pqxx::connection& c, const std::string& conninfo,
                       const std::string& password) {
  std::string verifier = scram_verifier(conninfo, password);
  pqxx::work tx(c);
  std::string role = tx.quote_name(kSqlReaderRole);
  if (tx.exec_params("SELECT 1 FROM pg_roles WHERE rolname = $1", kSqlReaderRole).empty())
    tx.exec("CREATE ROLE " + role);
  // Only the verifier reaches the server: a failing statement logged with its text shows
  // no password. Read-only by default as well as by its grants.
  tx.exec(fmt::format(
      "ALTER ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS "
      "NOINHERIT PASSWORD {}",
      role, tx.quote(verifier)));
  tx.exec(fmt::format("ALTER ROLE {} SET default_transaction_read_only = on", role));
  std::string db = tx.quote_name(tx.exec("SELECT current_database()")[0][0].as<std::string>());
  tx.exec(fmt::format(kGrants, fmt::arg("db", db), fmt::arg("role", role)));
  tx.commit();
}

void enable_sql_reader(pqxx::connection& c, const std::string& conninfo, const fs::path& data_dir,
                       const std::string& listen) {
  fs::path file = sql_reader_password_file(data_dir);
  ensure_sql_reader(c, conninfo, load_or_create_sql_reader_password(file));
  spdlog::info(
      "SQL readers (Grafana, psql) connect to {} as user {}, database {}; the password is in {}",
      listen, kSqlReaderRole, c.dbname(), file.string());
}

}  // namespace metricsd::storage
