// Merging a closed day's blocks; see block_merge.hpp.
#include "storage/block_merge.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <numeric>
#include <string>
#include <vector>

#include "core/block_format.hpp"
#include "core/compaction.hpp"
#include "storage/block_rows.hpp"
#include "storage/compactor.hpp"

namespace metricsd::storage {
namespace {

constexpr const char* kTryLock = "SELECT pg_try_advisory_xact_lock($1)";
// Days further back are left as they are: late samples for them add a block that stays.
constexpr int64_t kLookbackDays = 8;
// Series of one day holding more than one block, with their samples (or buckets).
constexpr const char* kPending = R"(
SELECT series_id, sum(n)::bigint FROM {} WHERE start_ms >= $1 AND start_ms < $2
GROUP BY series_id HAVING count(*) > 1 ORDER BY series_id LIMIT 20000)";
constexpr const char* kBlocks = R"(
SELECT series_id, start_ms, end_ms, data || tail FROM {}
WHERE series_id = ANY($1::bigint[]) AND start_ms >= $2 AND start_ms < $3
ORDER BY series_id, start_ms, end_ms)";
constexpr const char* kDelete =
    "DELETE FROM {} WHERE series_id = ANY($1::bigint[]) AND start_ms >= $2 AND start_ms < $3";
constexpr const char* kUnpacked = "DELETE FROM block_partitions_packed WHERE relname = $1";
// The first of the named partitions that exists and was not packed since its last merge.
constexpr const char* kToPack = R"(
SELECT c.relname FROM pg_class c WHERE c.relname = ANY($1::text[]) AND c.relkind = 'r'
AND NOT EXISTS (SELECT 1 FROM block_partitions_packed p WHERE p.relname = c.relname)
ORDER BY c.relname LIMIT 1)";
constexpr const char* kPacked =
    "INSERT INTO block_partitions_packed (relname) VALUES ($1) ON CONFLICT DO NOTHING";
constexpr const char* kTrySessionLock = "SELECT pg_try_advisory_lock($1)";
constexpr const char* kSessionUnlock = "SELECT pg_advisory_unlock($1)";

struct Table {
  const char* name;
  int64_t bucket_ms;  // 0 for sample blocks
};
constexpr Table kTables[] = {
    {"sample_blocks", 0}, {"rollup_1m_blocks", kMinuteMs}, {"rollup_1h_blocks", kHourMs}};

// <table>_pYYYYMMDD, as metricsd_ensure_partition names a day's partition.
std::string partition_name(const char* table, int64_t day_ms) {
  std::time_t t = static_cast<std::time_t>(day_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{}_p{:04}{:02}{:02}", table, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

// PostgreSQL array text: {a,b,c}.
template <class T>
std::string array_text(const std::vector<T>& items) {
  return fmt::format("{{{}}}", fmt::join(items, ","));
}

// Rewrites one merged partition (VACUUM FULL: it holds the partition's exclusive lock for
// the rewrite, so its readers wait that long) and records it. Outside a transaction, under
// the session-level compaction lock so two daemons do not both rewrite it.
std::string pack_one(PgConnection& pg, const std::vector<std::string>& candidates) {
  const std::string key = std::to_string(kCompactionLockKey);
  if (pg.query(kTrySessionLock, {key}, false)->value(0, 0) != "t") return "";
  std::string name;
  try {
    auto r = pg.query(kToPack, {array_text(candidates)}, false);
    if (r->rows() > 0) {
      name = std::string(r->value(0, 0));
      pg.exec(("VACUUM FULL " + name).c_str());  // a name we made: <table>_pYYYYMMDD
      pg.query(kPacked, {name}, false);
    }
  } catch (...) {
    if (!pg.broken()) pg.query(kSessionUnlock, {key}, false);
    throw;
  }
  pg.query(kSessionUnlock, {key}, false);
  return name;
}

// The day's blocks of one series, decoded and rewritten into `copy`.
struct SeriesDay {
  int64_t series = 0, start = 0, end = 0;
  std::vector<int64_t> ts;
  std::vector<double> values;
  std::vector<RollupBucket> buckets;
};

void write_samples(CopyBinary& copy, const SeriesDay& d) {
  // Stable: samples with equal times keep the order the blocks had.
  std::vector<uint32_t> order(d.ts.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return d.ts[a] < d.ts[b]; });
  std::vector<int64_t> ts;
  std::vector<double> vals;
  for (uint32_t i : order) {
    ts.push_back(d.ts[i]);
    vals.push_back(d.values[i]);
  }
  add_sample_block_rows(copy, d.series, d.start, d.end, ts, vals);
}

void write_rollups(CopyBinary& copy, SeriesDay& d, int64_t bucket_ms) {
  std::stable_sort(
      d.buckets.begin(), d.buckets.end(),
      [](const RollupBucket& a, const RollupBucket& b) { return a.bucket_ms < b.bucket_ms; });
  std::vector<RollupBucket> merged;
  for (const auto& b : d.buckets) {
    if (!merged.empty() && merged.back().bucket_ms == b.bucket_ms)
      merged.back().agg.merge(b.agg);
    else
      merged.push_back(b);
  }
  add_rollup_block_rows(copy, d.series, bucket_ms, merged);
}

// Rewrites the day's blocks of `series` in `table`; returns the blocks read.
int64_t rewrite(PgConnection& pg, const Table& table, const std::vector<int64_t>& series,
                int64_t day) {
  std::vector<std::string> params = {array_text(series), std::to_string(day),
                                     std::to_string(day + kDayMs)};
  auto rows = pg.query(fmt::format(kBlocks, table.name).c_str(), params, /*binary_results=*/true);
  CopyBinary copy;
  SeriesDay d;
  auto flush = [&] {
    if (table.bucket_ms == 0)
      write_samples(copy, d);
    else
      write_rollups(copy, d, table.bucket_ms);
  };
  for (int i = 0; i < rows->rows(); ++i) {
    int64_t id = decode_int8(rows->value(i, 0));
    if (i == 0 || id != d.series) {
      if (i > 0) flush();
      d = SeriesDay{id, decode_int8(rows->value(i, 1)), decode_int8(rows->value(i, 2)), {}, {}, {}};
    }
    d.start = std::min(d.start, decode_int8(rows->value(i, 1)));
    d.end = std::max(d.end, decode_int8(rows->value(i, 2)));
    try {
      if (table.bucket_ms == 0)
        decode_samples(rows->value(i, 3), d.ts, d.values);
      else
        decode_rollups(rows->value(i, 3), d.buckets);
    } catch (const CorruptBlock& e) {
      throw std::runtime_error(fmt::format("corrupt block in {} of series {} from {}: {}",
                                           table.name, id, decode_int8(rows->value(i, 1)),
                                           e.what()));
    }
  }
  if (rows->rows() > 0) flush();
  pg.query(fmt::format(kDelete, table.name).c_str(), params, false);
  pg.copy_in(
      table.bucket_ms == 0 ? kCopySampleBlocks : fmt::format(kCopyRollupBlocks, table.name).c_str(),
      copy.finish());
  return rows->rows();
}

}  // namespace

MergeResult merge_closed_days(PgConnection& pg, int64_t closed_before_ms, int64_t max_samples) {
  MergeResult res;
  pg.exec("BEGIN");
  try {
    if (pg.query(kTryLock, {std::to_string(kCompactionLockKey)}, false)->value(0, 0) != "t") {
      pg.exec("ROLLBACK");
      return res;
    }
    res.ran = true;
    const int64_t last_day = floor_to(closed_before_ms, kDayMs) - kDayMs;  // ends by then
    for (int64_t day = last_day - (kLookbackDays - 1) * kDayMs; day <= last_day; day += kDayMs) {
      for (const Table& table : kTables) {
        auto pending = pg.query(fmt::format(kPending, table.name).c_str(),
                                {std::to_string(day), std::to_string(day + kDayMs)}, true);
        if (pending->rows() == 0) continue;
        std::vector<int64_t> series;
        int64_t samples = 0;
        for (int i = 0; i < pending->rows() && (series.empty() || samples < max_samples); ++i) {
          series.push_back(decode_int8(pending->value(i, 0)));
          samples += decode_int8(pending->value(i, 1));
        }
        res.blocks_in = rewrite(pg, table, series, day);
        pg.query(kUnpacked, {partition_name(table.name, day)}, false);
        res.series = static_cast<int64_t>(series.size());
        res.more = true;  // the next pass looks for what is left
        pg.exec("COMMIT");
        return res;
      }
    }
    pg.exec("COMMIT");
  } catch (...) {
    if (!pg.broken()) {
      try {
        pg.exec("ROLLBACK");
      } catch (...) {
      }
    }
    throw;
  }
  // Every closed day merged: pack one partition whose merged-away blocks still take space.
  std::vector<std::string> candidates;
  const int64_t last_day = floor_to(closed_before_ms, kDayMs) - kDayMs;
  for (int64_t day = last_day - (kLookbackDays - 1) * kDayMs; day <= last_day; day += kDayMs)
    for (const Table& table : kTables)
      candidates.push_back(partition_name(table.name, day));
  res.packed = pack_one(pg, candidates);
  res.more = !res.packed.empty();
  return res;
}

}  // namespace metricsd::storage
