// The read-only SQL role (`metricsd_reader`) that Grafana's PostgreSQL data source and psql
// use over TCP when the embedded PostgreSQL listens on database.embedded_sql_listen. It may
// connect to the database, use schema public, read the `metrics` view and call
// metrics_between(); nothing else (no tokens, no audit log, no writes, no temporary
// tables). Its password is generated once and kept in a 0600 file in the data dir; the
// server is sent only its SCRAM verifier, so the password is in no log of either.
#pragma once

#include <filesystem>
#include <pqxx/pqxx>
#include <string>

namespace metricsd::storage {

inline constexpr const char* kSqlReaderRole = "metricsd_reader";

// <data_dir>/sql-reader.password
std::filesystem::path sql_reader_password_file(const std::filesystem::path& data_dir);

// The password in `file`, or a new one written there (0600) when the file does not exist.
// Throws std::runtime_error when the file cannot be read or written, or is empty.
std::string load_or_create_sql_reader_password(const std::filesystem::path& file);

// Creates the role or brings it up to date (LOGIN, the password, its grants), on the
// database `c` is connected to as a superuser; `conninfo` is that connection's, for
// libpq's SCRAM verifier. Idempotent, in one transaction: run at every start.
void ensure_sql_reader(pqxx::connection& c, const std::string& conninfo,
                       const std::string& password);

// At start-up with database.embedded_sql_listen set: the password file, then the role; logs
// where the password is (never the password). Throws as the two above.
void enable_sql_reader(pqxx::connection& c, const std::string& conninfo,
                       const std::filesystem::path& data_dir, const std::string& listen);

}  // namespace metricsd::storage
