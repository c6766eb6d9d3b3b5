// PostgreSQL's binary wire formats for the bulk paths (the group-commit writer and the
// compactor): COPY ... (FORMAT binary) encoding, binary array decoding, and a small RAII
// libpq connection with the few calls those paths need. Text formatting of numbers costs
// PostgreSQL more CPU than the rest of these paths together, hence binary.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd::storage {

inline constexpr uint32_t kInt8Oid = 20;
inline constexpr uint32_t kFloat8Oid = 701;

// Builds a COPY FROM STDIN (FORMAT binary) payload.
class CopyBinary {
 public:
  CopyBinary();
  void row(uint16_t fields);
  void int4(int32_t v);
  void int8(int64_t v);
  void float8(double v);
  void bytea(std::string_view v);
  // A one-dimensional array; `parts` are concatenated (no copy into a temporary).
  void int8_array(const std::vector<const std::vector<int64_t>*>& parts);
  void float8_array(const std::vector<const std::vector<double>*>& parts);
  void int8_array(const std::vector<int64_t>& v) { int8_array(std::vector{&v}); }
  void float8_array(const std::vector<double>& v) { float8_array(std::vector{&v}); }
  // Appends the trailer and returns the payload.
  const std::string& finish();

 private:
  std::string buf_;
};

// Decodes a binary one-dimensional int8[] / float8[] value (appending). Throws on
// anything else (nulls, other element types, more dimensions).
void decode_int8_array(std::string_view value, std::vector<int64_t>& out);
void decode_float8_array(std::string_view value, std::vector<double>& out);
int64_t decode_int8(std::string_view value);
double decode_float8(std::string_view value);

// One libpq connection, owned by one thread at a time.
class PgConnection {
 public:
  explicit PgConnection(std::string conninfo) : conninfo_(std::move(conninfo)) {}
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Connects if needed; throws Unavailable when it cannot.
  PGconn* get();
  bool broken() const;
  void reset();

  // Runs a command expecting no rows; throws (Unavailable if the connection broke).
  void exec(const char* sql);
  // Runs a query with text parameters; binary results when binary_results.
  struct Result {
    PGresult* r = nullptr;
    ~Result() { PQclear(r); }
    int rows() const { return PQntuples(r); }
    std::string_view value(int row, int col) const {
      return {PQgetvalue(r, row, col), static_cast<size_t>(PQgetlength(r, row, col))};
    }
  };
  std::unique_ptr<Result> query(const char* sql, const std::vector<std::string>& params,
                                bool binary_results);
  // COPY <sql> FROM STDIN with the payload.
  void copy_in(const char* copy_sql, const std::string& payload);

 private:
  [[noreturn]] void fail(const std::string& what);
  const std::string conninfo_;
  PGconn* pg_ = nullptr;
};

}  // namespace metricsd::storage
