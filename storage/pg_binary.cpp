// Binary COPY and array formats, and the libpq connection; see pg_binary.hpp.
#include "storage/pg_binary.hpp"

#include <bit>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "storage/storage_pool.hpp"

namespace metricsd::storage {
namespace {

void put32(std::string& b, uint32_t v) {
  v = __builtin_bswap32(v);
  b.append(reinterpret_cast<const char*>(&v), 4);
}
void put16(std::string& b, uint16_t v) {
  v = __builtin_bswap16(v);
  b.append(reinterpret_cast<const char*>(&v), 2);
}
void put64(std::string& b, uint64_t v) {
  v = __builtin_bswap64(v);
  b.append(reinterpret_cast<const char*>(&v), 8);
}

template <class T>
void put_array(std::string& b, uint32_t oid, const std::vector<const std::vector<T>*>& parts) {
  size_t n = 0;
  for (const auto* p : parts)
    n += p->size();
  put32(b, static_cast<uint32_t>(20 + n * 12));  // field length
  put32(b, 1);                                   // dimensions
  put32(b, 0);                                   // no nulls
  put32(b, oid);
  put32(b, static_cast<uint32_t>(n));
  put32(b, 1);  // lower bound
  size_t at = b.size();
  b.resize(at + n * 12);
  char* out = b.data() + at;
  const uint32_t len = __builtin_bswap32(8);
  for (const auto* p : parts)
    for (const T& x : *p) {
      uint64_t v = __builtin_bswap64(std::bit_cast<uint64_t>(x));
      std::memcpy(out, &len, 4);
      std::memcpy(out + 4, &v, 8);
      out += 12;
    }
}

uint32_t get32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return __builtin_bswap32(v);
}
uint64_t get64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return __builtin_bswap64(v);
}

template <class T>
void decode_array(std::string_view s, uint32_t oid, std::vector<T>& out) {
  if (s.size() < 12) throw std::runtime_error("binary array too short");
  uint32_t ndim = get32(s.data()), hasnull = get32(s.data() + 4), elem = get32(s.data() + 8);
  if (ndim == 0) return;  // empty array
  if (ndim != 1 || hasnull != 0 || elem != oid || s.size() < 20)
    throw std::runtime_error("unexpected binary array shape");
  uint32_t n = get32(s.data() + 12);
  if (s.size() != 20 + static_cast<size_t>(n) * 12)
    throw std::runtime_error("binary array length mismatch");
  const char* p = s.data() + 20;
  out.reserve(out.size() + n);
  for (uint32_t i = 0; i < n; ++i, p += 12) {
    if (get32(p) != 8) throw std::runtime_error("unexpected binary array element");
    out.push_back(std::bit_cast<T>(get64(p + 4)));
  }
}

std::string one_line(const char* s) {
  std::string out = s ? s : "";
  for (char& c : out)
    if (c == '\n') c = ' ';
  while (!out.empty() && out.back() == ' ')
    out.pop_back();
  return out;
}

}  // namespace

CopyBinary::CopyBinary() {
  buf_.append("PGCOPY\n\377\r\n\0", 11);
  put32(buf_, 0);  // flags
  put32(buf_, 0);  // header extension
}

void CopyBinary::row(uint16_t fields) {
  put16(buf_, fields);
}
void CopyBinary::int4(int32_t v) {
  put32(buf_, 4);
  put32(buf_, static_cast<uint32_t>(v));
}
void CopyBinary::int8(int64_t v) {
  put32(buf_, 8);
  put64(buf_, static_cast<uint64_t>(v));
}
void CopyBinary::float8(double v) {
  put32(buf_, 8);
  put64(buf_, std::bit_cast<uint64_t>(v));
}
void CopyBinary::bytea(std::string_view v) {
  put32(buf_, static_cast<uint32_t>(v.size()));
  buf_.append(v);
}
void CopyBinary::int8_array(const std::vector<const std::vector<int64_t>*>& parts) {
  put_array(buf_, kInt8Oid, parts);
}
void CopyBinary::float8_array(const std::vector<const std::vector<double>*>& parts) {
  put_array(buf_, kFloat8Oid, parts);
}
const std::string& CopyBinary::finish() {
  put16(buf_, 0xFFFF);
  return buf_;
}

void decode_int8_array(std::string_view v, std::vector<int64_t>& out) {
  decode_array(v, kInt8Oid, out);
}
void decode_float8_array(std::string_view v, std::vector<double>& out) {
  decode_array(v, kFloat8Oid, out);
}
int64_t decode_int8(std::string_view v) {
  if (v.size() != 8) throw std::runtime_error("unexpected binary int8");
  return static_cast<int64_t>(get64(v.data()));
}

double decode_float8(std::string_view v) {
  if (v.size() != 8) throw std::runtime_error("unexpected binary float8");
  return std::bit_cast<double>(get64(v.data()));
}

PgConnection::~PgConnection() {
  reset();
}

void PgConnection::reset() {
  if (pg_) PQfinish(pg_);
  pg_ = nullptr;
}

bool PgConnection::broken() const {
  return !pg_ || PQstatus(pg_) != CONNECTION_OK;
}

PGconn* PgConnection::get() {
  if (pg_ && PQstatus(pg_) != CONNECTION_OK) reset();
  if (!pg_) {
    pg_ = PQconnectdb(conninfo_.c_str());
    if (PQstatus(pg_) != CONNECTION_OK) {
      std::string why = one_line(PQerrorMessage(pg_));
      reset();
      throw Unavailable("database unreachable: " + why);
    }
  }
  return pg_;
}

void PgConnection::fail(const std::string& what) {
  std::string why = what + ": " + one_line(PQerrorMessage(pg_));
  if (broken()) {
    reset();
    throw Unavailable("database connection lost: " + why);
  }
  throw std::runtime_error(why);
}

void PgConnection::exec(const char* sql) {
  PGresult* r = PQexec(get(), sql);
  auto st = PQresultStatus(r);
  PQclear(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) fail(sql);
}

std::unique_ptr<PgConnection::Result> PgConnection::query(const char* sql,
                                                          const std::vector<std::string>& params,
                                                          bool binary_results) {
  std::vector<const char*> values;
  for (const auto& p : params)
    values.push_back(p.c_str());
  auto res = std::make_unique<Result>();
  res->r = PQexecParams(get(), sql, static_cast<int>(values.size()), nullptr, values.data(),
                        nullptr, nullptr, binary_results ? 1 : 0);
  auto st = PQresultStatus(res->r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    std::string err = one_line(PQresultErrorMessage(res->r));
    fail(err.empty() ? std::string(sql) : err);
  }
  return res;
}

void PgConnection::copy_in(const char* copy_sql, const std::string& payload) {
  PGconn* pg = get();
  PGresult* r = PQexec(pg, copy_sql);
  bool ok = PQresultStatus(r) == PGRES_COPY_IN;
  PQclear(r);
  if (!ok) fail(copy_sql);
  if (PQputCopyData(pg, payload.data(), static_cast<int>(payload.size())) != 1 ||
      PQputCopyEnd(pg, nullptr) != 1)
    fail("sending COPY data");
  std::string error;
  while ((r = PQgetResult(pg)) != nullptr) {
    if (PQresultStatus(r) != PGRES_COMMAND_OK && error.empty())
      error = one_line(PQresultErrorMessage(r));
    PQclear(r);
  }
  if (!error.empty()) {
    if (broken()) fail(error);
    throw std::runtime_error(error);
  }
}

}  // namespace metricsd::storage
