// Compaction and partition upkeep; see compactor.hpp.
#include "storage/compactor.hpp"

#include <fmt/format.h>
#include <charconv>
#include <mutex>
#include <set>
#include <string>
#include <tuple>

#include "core/block_format.hpp"
#include "core/compaction.hpp"
#include "storage/block_rows.hpp"
#include "storage/pg_binary.hpp"

namespace metricsd::storage {
namespace {

constexpr const char* kTryLock = "SELECT pg_try_advisory_xact_lock($1)";
// Whole rows, oldest first, up to about max_samples samples (always at least one row).
constexpr const char* kTakeInbox = R"(
SELECT batch_id, series_ids, ts_ms, vals
FROM (SELECT batch_id, series_ids, ts_ms, vals,
             sum(n) OVER (ORDER BY batch_id) - n AS before
      FROM inbox
      WHERE max_ts_ms < $1 AND committed_at < now() - make_interval(secs => $3)) t
WHERE before < $2
ORDER BY batch_id)";
constexpr const char* kDeleteInbox = "DELETE FROM inbox WHERE batch_id = ANY($1::bigint[])";
constexpr const char* kEnsurePartition = "SELECT metricsd_ensure_partition($1, $2)";
constexpr const char* kPartitions = R"(
SELECT c.relname, p.relname FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
WHERE p.relname IN ('chunks', 'rollup_1m', 'rollup_1h', 'sample_blocks', 'rollup_1m_blocks',
                    'rollup_1h_blocks'))";

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

void ensure_days(PgConnection& pg, const char* table, const std::set<int64_t>& days) {
  for (int64_t d : days)
    pg.query(kEnsurePartition, {table, std::to_string(d)}, false);
}

// One block per series and day of the pass's buckets (a block stays in its day's partition).
void copy_rollup_blocks(PgConnection& pg, const char* table, int64_t width,
                        const std::vector<RollupRow>& rows) {
  CopyBinary copy;
  std::vector<RollupBucket> buckets;
  for (size_t i = 0; i < rows.size();) {
    int64_t series = rows[i].series_id, day = floor_to(rows[i].bucket_ms, kDayMs);
    buckets.clear();
    for (; i < rows.size() && rows[i].series_id == series &&
           floor_to(rows[i].bucket_ms, kDayMs) == day;
         ++i)
      buckets.push_back({rows[i].bucket_ms, rows[i].agg});
    add_rollup_block_rows(copy, series, width, buckets);
  }
  pg.copy_in(fmt::format(kCopyRollupBlocks, table).c_str(), copy.finish());
}

// One block per chunk (series and window).
void copy_sample_blocks(PgConnection& pg, const std::vector<ChunkRow>& chunks) {
  CopyBinary copy;
  for (const auto& ch : chunks)
    add_sample_block_rows(copy, ch.series_id, ch.start_ms, ch.end_ms, ch.ts_ms, ch.values);
  pg.copy_in(kCopySampleBlocks, copy.finish());
}

}  // namespace

int64_t closed_before(int64_t now_ms, int64_t grace_ms) {
  return floor_to(now_ms - grace_ms, kChunkWindowMs);
}

CompactionResult compact_inbox(PgConnection& pg, int64_t closed_before_ms, int64_t max_samples,
                               Head& head, TierCache& cache) {
  CompactionResult res;
  pg.exec("BEGIN");
  try {
    if (pg.query(kTryLock, {std::to_string(kCompactionLockKey)}, false)->value(0, 0) != "t") {
      pg.exec("ROLLBACK");
      return res;
    }
    res.ran = true;
    std::vector<int64_t> series, ts, batch_ids;
    std::vector<double> values;
    {
      auto rows = pg.query(kTakeInbox,
                           {std::to_string(closed_before_ms), std::to_string(max_samples),
                            std::to_string(kInboxSettleSeconds)},
                           /*binary_results=*/true);
      for (int i = 0; i < rows->rows(); ++i) {
        batch_ids.push_back(decode_int8(rows->value(i, 0)));
        decode_int8_array(rows->value(i, 1), series);
        decode_int8_array(rows->value(i, 2), ts);
        decode_float8_array(rows->value(i, 3), values);
      }
    }
    if (batch_ids.empty()) {
      pg.exec("COMMIT");
      return res;
    }
    if (series.size() != ts.size() || ts.size() != values.size())
      throw std::runtime_error("inbox row arrays differ in length");
    Compacted out = compact_samples(series, ts, values);
    std::set<int64_t> chunk_days, minute_days, hour_days;
    std::set<std::pair<int64_t, int64_t>> minute_series_days, hour_series_days;
    for (const auto& ch : out.chunks)
      chunk_days.insert(floor_to(ch.start_ms, kDayMs));
    for (const auto& r : out.rollup_1m) {
      minute_days.insert(floor_to(r.bucket_ms, kDayMs));
      minute_series_days.emplace(r.series_id, floor_to(r.bucket_ms, kDayMs));
    }
    for (const auto& r : out.rollup_1h) {
      hour_days.insert(floor_to(r.bucket_ms, kDayMs));
      hour_series_days.emplace(r.series_id, floor_to(r.bucket_ms, kDayMs));
    }
    ensure_days(pg, "sample_blocks", chunk_days);
    ensure_days(pg, "rollup_1m_blocks", minute_days);
    ensure_days(pg, "rollup_1h_blocks", hour_days);
    // Encoding happens here, on the storage thread, inside the transaction that deletes
    // the inbox rows.
    copy_sample_blocks(pg, out.chunks);
    copy_rollup_blocks(pg, "rollup_1m_blocks", kMinuteMs, out.rollup_1m);
    copy_rollup_blocks(pg, "rollup_1h_blocks", kHourMs, out.rollup_1h);
    pg.query(kDeleteInbox, {array_text(batch_ids)}, false);
    {
      // Readers under tiers_mutex wait; readers without it see the generation change.
      std::unique_lock tiers(head.tiers_mutex());
      head.begin_tiers_change();
      struct End {
        Head& h;
        ~End() { h.end_tiers_change(); }
      } end{head};
      cache.invalidate(Tier::kRollup1m, {minute_series_days.begin(), minute_series_days.end()});
      cache.invalidate(Tier::kRollup1h, {hour_series_days.begin(), hour_series_days.end()});
      pg.exec("COMMIT");
      head.remove(out.chunks);
    }
    res.inbox_rows = static_cast<int64_t>(batch_ids.size());
    res.samples = static_cast<int64_t>(values.size());
    res.chunks = static_cast<int64_t>(out.chunks.size());
    res.more = res.samples >= max_samples;
    return res;
  } catch (...) {
    if (!pg.broken()) {
      try {
        pg.exec("ROLLBACK");
      } catch (...) {
      }
    }
    throw;
  }
}

int maintain_partitions(pqxx::connection& c, int64_t now_ms, const Retention& retention) {
  pqxx::work tx(c);
  if (!tx.exec_params(kTryLock, kCompactionLockKey)[0][0].as<bool>()) return 0;
  int64_t today = floor_to(now_ms, kDayMs);
  for (const char* t : {"sample_blocks", "rollup_1m_blocks", "rollup_1h_blocks"})
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
    int64_t keep = parent == "chunks" || parent == "sample_blocks"         ? retention.raw_ms
                   : parent == "rollup_1m" || parent == "rollup_1m_blocks" ? retention.rollup_1m_ms
                                                                           : retention.rollup_1h_ms;
    if (day_ms + kDayMs <= now_ms - keep) {
      tx.exec("DROP TABLE " + tx.quote_name(name));
      ++dropped;
    }
  }
  if (dropped > 0)
    tx.exec("DELETE FROM block_partitions_packed WHERE to_regclass(relname) IS NULL");
  tx.commit();
  return dropped;
}

}  // namespace metricsd::storage
