// Compaction and partition upkeep; see compactor.hpp.
#include "storage/compactor.hpp"

#include <fmt/format.h>
#include <charconv>
#include <set>
#include <string>
#include <tuple>

#include "core/compaction.hpp"

namespace metricsd::storage {
namespace {

constexpr int64_t kDayMs = 86'400'000;

constexpr const char* kTryLock = "SELECT pg_try_advisory_xact_lock($1)";
// Whole rows, oldest first, up to about max_samples samples (always at least one row).
constexpr const char* kTakeInbox = R"(
SELECT batch_id, series_ids::text, ts_ms::text, vals::text
FROM (SELECT batch_id, series_ids, ts_ms, vals,
             sum(n) OVER (ORDER BY batch_id) - n AS before
      FROM inbox WHERE max_ts_ms < $1) t
WHERE before < $2
ORDER BY batch_id)";
constexpr const char* kDeleteInbox = "DELETE FROM inbox WHERE batch_id = ANY($1::bigint[])";
constexpr const char* kEnsurePartition = "SELECT metricsd_ensure_partition($1, $2)";
constexpr const char* kStage = R"(
CREATE TEMP TABLE IF NOT EXISTS rollup_stage (
  series_id bigint, bucket_ms bigint, n integer, sum float8, min float8, max float8,
  last float8, last_ts_ms bigint) ON COMMIT DELETE ROWS)";
// Merges staged aggregates into a rollup table; `last` follows the later timestamp.
constexpr const char* kMergeRollup = R"(
INSERT INTO {0} AS r SELECT * FROM rollup_stage
ON CONFLICT (series_id, bucket_ms) DO UPDATE SET
  n = r.n + EXCLUDED.n,
  sum = r.sum + EXCLUDED.sum,
  min = LEAST(r.min, EXCLUDED.min),
  max = GREATEST(r.max, EXCLUDED.max),
  last = CASE WHEN EXCLUDED.last_ts_ms >= r.last_ts_ms THEN EXCLUDED.last ELSE r.last END,
  last_ts_ms = GREATEST(r.last_ts_ms, EXCLUDED.last_ts_ms))";
constexpr const char* kPartitions = R"(
SELECT c.relname, p.relname FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
WHERE p.relname IN ('chunks', 'rollup_1m', 'rollup_1h'))";

// "{1,2,3}" -> values; throws on anything else.
template <class T>
void parse_array(const char* text, std::vector<T>& out) {
  std::string_view s(text);
  if (s.size() < 2 || s.front() != '{' || s.back() != '}')
    throw std::runtime_error("unexpected array text from the inbox");
  s = s.substr(1, s.size() - 2);
  while (!s.empty()) {
    size_t comma = s.find(',');
    std::string_view item = s.substr(0, comma);
    T v{};
    auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (ec != std::errc() || p != item.data() + item.size())
      throw std::runtime_error("unexpected array element from the inbox");
    out.push_back(v);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
}

template <class T>
std::string array_text(const std::vector<T>& v) {
  std::string out = "{";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    fmt::format_to(std::back_inserter(out), "{}", v[i]);
  }
  out += '}';
  return out;
}

void ensure_days(pqxx::work& tx, const char* table, const std::set<int64_t>& days) {
  for (int64_t d : days)
    tx.exec_params(kEnsurePartition, table, d);
}

void merge_rollups(pqxx::work& tx, const char* table, const std::vector<RollupRow>& rows) {
  {
    pqxx::stream_to stage(tx, "rollup_stage");
    for (const auto& r : rows)
      stage << std::make_tuple(r.series_id, r.bucket_ms, r.agg.n, r.agg.sum, r.agg.min, r.agg.max,
                               r.agg.last, r.agg.last_ts_ms);
    stage.complete();
  }
  tx.exec(fmt::format(kMergeRollup, table));
  tx.exec("TRUNCATE rollup_stage");
}

}  // namespace

CompactionResult compact_inbox(pqxx::connection& c, int64_t now_ms, int64_t grace_ms,
                               int64_t max_samples) {
  CompactionResult res;
  pqxx::work tx(c);
  if (!tx.exec_params(kTryLock, kCompactionLockKey)[0][0].as<bool>()) return res;
  res.ran = true;
  int64_t closed_before = floor_to(now_ms - grace_ms, kChunkWindowMs);
  std::vector<int64_t> series, ts, batch_ids;
  std::vector<double> values;
  auto rows = tx.exec_params(kTakeInbox, closed_before, max_samples);
  for (const auto& row : rows) {
    batch_ids.push_back(row[0].as<int64_t>());
    parse_array(row[1].c_str(), series);
    parse_array(row[2].c_str(), ts);
    parse_array(row[3].c_str(), values);
  }
  if (batch_ids.empty()) return res;
  if (series.size() != ts.size() || ts.size() != values.size())
    throw std::runtime_error("inbox row arrays differ in length");
  Compacted out = compact_samples(series, ts, values);
  std::set<int64_t> chunk_days, minute_days, hour_days;
  for (const auto& ch : out.chunks)
    chunk_days.insert(floor_to(ch.start_ms, kDayMs));
  for (const auto& r : out.rollup_1m)
    minute_days.insert(floor_to(r.bucket_ms, kDayMs));
  for (const auto& r : out.rollup_1h)
    hour_days.insert(floor_to(r.bucket_ms, kDayMs));
  ensure_days(tx, "chunks", chunk_days);
  ensure_days(tx, "rollup_1m", minute_days);
  ensure_days(tx, "rollup_1h", hour_days);
  {
    pqxx::stream_to chunks(tx, "chunks");
    for (const auto& ch : out.chunks)
      chunks << std::make_tuple(ch.series_id, ch.start_ms, ch.end_ms, array_text(ch.ts_ms),
                                array_text(ch.values), ch.agg.n, ch.agg.sum, ch.agg.min, ch.agg.max,
                                ch.agg.last, ch.agg.last_ts_ms);
    chunks.complete();
  }
  tx.exec(kStage);
  merge_rollups(tx, "rollup_1m", out.rollup_1m);
  merge_rollups(tx, "rollup_1h", out.rollup_1h);
  tx.exec_params(kDeleteInbox, array_text(batch_ids));
  tx.commit();
  res.inbox_rows = static_cast<int64_t>(batch_ids.size());
  res.samples = static_cast<int64_t>(values.size());
  res.chunks = static_cast<int64_t>(out.chunks.size());
  res.more = res.samples >= max_samples;
  return res;
}

int maintain_partitions(pqxx::connection& c, int64_t now_ms, const Retention& retention) {
  pqxx::work tx(c);
  if (!tx.exec_params(kTryLock, kCompactionLockKey)[0][0].as<bool>()) return 0;
  int64_t today = floor_to(now_ms, kDayMs);
  for (const char* t : {"chunks", "rollup_1m", "rollup_1h"})
    ensure_days(tx, t, {today, today + kDayMs});
  int dropped = 0;
  for (const auto& row : tx.exec(kPartitions)) {
    std::string name = row[0].as<std::string>(), parent = row[1].as<std::string>();
    // <parent>_pYYYYMMDD: the partition holds [day, day + 1 d).
    auto p = name.rfind("_p");
    int y = 0, m = 0, d = 0;
    if (p == std::string::npos || std::sscanf(name.c_str() + p + 2, "%4d%2d%2d", &y, &m, &d) != 3)
      continue;
    auto day_ms =
        tx.exec_params("SELECT (extract(epoch FROM make_date($1, $2, $3)) * 1000)::bigint", y, m,
                       d)[0][0]
            .as<int64_t>();
    int64_t keep = parent == "chunks"      ? retention.raw_ms
                   : parent == "rollup_1m" ? retention.rollup_1m_ms
                                           : retention.rollup_1h_ms;
    if (day_ms + kDayMs <= now_ms - keep) {
      tx.exec("DROP TABLE " + tx.quote_name(name));
      ++dropped;
    }
  }
  tx.commit();
  return dropped;
}

}  // namespace metricsd::storage
