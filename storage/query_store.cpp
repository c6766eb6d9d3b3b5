// Query reads; see query_store.hpp.
#include "storage/query_store.hpp"

#include <fmt/format.h>

#include <charconv>
#include <stdexcept>
#include <string>
#include <string_view>

#include "core/block_format.hpp"

namespace metricsd::storage {
namespace {

// Chunks intersecting [from, to): start < to and start + window > from.
constexpr const char* kChunks =
    "SELECT series_id, ts_ms::text, vals::text FROM chunks "
    "WHERE series_id = ANY($1::bigint[]) AND start_ms > $2::bigint - $4::bigint AND start_ms < "
    "$3::bigint";
// Blocks intersecting [from, to): start < to, end > from, and (for the index) start later
// than from minus the longest block window.
constexpr const char* kSampleBlocks =
    "SELECT series_id, data || tail FROM sample_blocks "
    "WHERE series_id = ANY($1::bigint[]) AND start_ms > $2::bigint - $4::bigint "
    "AND start_ms < $3::bigint AND end_ms > $2::bigint";
constexpr const char* kRollupBlocks =
    "SELECT series_id, data || tail FROM {} "
    "WHERE series_id = ANY($1::bigint[]) AND start_ms > $2::bigint - $4::bigint "
    "AND start_ms < $3::bigint AND end_ms > $2::bigint";
constexpr const char* kRollup1m =
    "SELECT series_id, bucket_ms, n, sum, min, max, last, last_ts_ms FROM rollup_1m "
    "WHERE series_id = ANY($1::bigint[]) AND bucket_ms >= $2 AND bucket_ms < $3";
constexpr const char* kRollup1h =
    "SELECT series_id, bucket_ms, n, sum, min, max, last, last_ts_ms FROM rollup_1h "
    "WHERE series_id = ANY($1::bigint[]) AND bucket_ms >= $2 AND bucket_ms < $3";

std::string id_array(const std::vector<int64_t>& ids) {
  std::string out = "{";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(ids[i]);
  }
  return out + "}";
}

// "{1,2,3}" -> values.
template <class T>
void parse_array(std::string_view s, std::vector<T>& out) {
  out.clear();
  if (s.size() < 2 || s.front() != '{' || s.back() != '}')
    throw std::runtime_error("unexpected array text from chunks");
  s = s.substr(1, s.size() - 2);
  while (!s.empty()) {
    size_t comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    T v{};
    auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (ec != std::errc() || p != item.data() + item.size())
      throw std::runtime_error("unexpected array element from chunks");
    out.push_back(v);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
}

template <class T>
T number(const pqxx::field& f) {
  T v{};
  const char* b = f.c_str();
  auto [p, ec] = std::from_chars(b, b + f.size(), v);
  if (ec != std::errc() || p != b + f.size())
    throw std::runtime_error("unexpected number from rollups");
  return v;
}

// Decodes the bytea of row[1]; a corrupt block names its series and window.
void decode_block(const pqxx::row& row, const std::function<void(std::string_view)>& decode) {
  pqxx::binarystring bytes(row[1]);
  try {
    decode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  } catch (const CorruptBlock& e) {
    throw std::runtime_error(
        fmt::format("corrupt block of series {}: {}", row[0].c_str(), e.what()));
  }
}

}  // namespace

void read_chunk_samples(pqxx::transaction_base& tx, const std::vector<int64_t>& series,
                        int64_t from, int64_t to,
                        const std::function<void(int64_t, int64_t, double)>& fn) {
  std::vector<int64_t> ts;
  std::vector<double> vals;
  for (const auto& row : tx.exec_params(kChunks, id_array(series), from, to, kChunkWindowMs)) {
    int64_t id = number<int64_t>(row[0]);
    parse_array(std::string_view(row[1].c_str(), row[1].size()), ts);
    parse_array(std::string_view(row[2].c_str(), row[2].size()), vals);
    if (ts.size() != vals.size()) throw std::runtime_error("chunk arrays differ in length");
    for (size_t i = 0; i < ts.size(); ++i)
      if (ts[i] >= from && ts[i] < to) fn(id, ts[i], vals[i]);
  }
  for (const auto& row :
       tx.exec_params(kSampleBlocks, id_array(series), from, to, kMaxBlockWindowMs)) {
    int64_t id = number<int64_t>(row[0]);
    ts.clear();
    vals.clear();
    decode_block(row, [&](std::string_view b) { decode_samples(b, ts, vals); });
    for (size_t i = 0; i < ts.size(); ++i)
      if (ts[i] >= from && ts[i] < to) fn(id, ts[i], vals[i]);
  }
}

void read_rollups(pqxx::transaction_base& tx, Tier tier, const std::vector<int64_t>& series,
                  int64_t from, int64_t to,
                  const std::function<void(int64_t, int64_t, const Aggregate&)>& fn) {
  const char* sql = tier == Tier::kRollup1h ? kRollup1h : kRollup1m;
  for (const auto& row : tx.exec_params(sql, id_array(series), from, to)) {
    // from_chars, not field::as: libpqxx 6 converts through a stringstream, which cost
    // more than the rest of a 24 h query together.
    Aggregate a;
    a.n = number<int64_t>(row[2]);
    a.sum = number<double>(row[3]);
    a.min = number<double>(row[4]);
    a.max = number<double>(row[5]);
    a.last = number<double>(row[6]);
    a.last_ts_ms = number<int64_t>(row[7]);
    fn(number<int64_t>(row[0]), number<int64_t>(row[1]), a);
  }
  const char* blocks = tier == Tier::kRollup1h ? "rollup_1h_blocks" : "rollup_1m_blocks";
  std::vector<RollupBucket> buckets;
  for (const auto& row : tx.exec_params(fmt::format(kRollupBlocks, blocks), id_array(series), from,
                                        to, kMaxBlockWindowMs)) {
    int64_t id = number<int64_t>(row[0]);
    buckets.clear();
    decode_block(row, [&](std::string_view b) { decode_rollups(b, buckets); });
    for (const auto& b : buckets)
      if (b.bucket_ms >= from && b.bucket_ms < to) fn(id, b.bucket_ms, b.agg);
  }
}

}  // namespace metricsd::storage
