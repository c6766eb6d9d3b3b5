// Deleting from the block tiers; see block_delete.hpp.
#include "storage/block_delete.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>

#include "core/block_format.hpp"
#include "storage/block_rows.hpp"

namespace metricsd::storage {
namespace {

// Raw tables hold rows (series_id, start_ms, end_ms, n, ...) whose samples lie in the
// window [start_ms, end_ms). Parameters: $1 the series, $2 and $3 the range, $4..$5 and
// $6..$7 the cut hours, $8..$9 the range with them, $10 the longest block window.
// Wholly inside the range and clear of the cut hours: counted or deleted unread.
constexpr const char* kRawInside =
    "series_id = ANY($1::bigint[]) AND start_ms >= $2::bigint AND start_ms < $3::bigint "
    "AND end_ms <= $3::bigint AND NOT (start_ms < $5::bigint AND end_ms > $4::bigint) "
    "AND NOT (start_ms < $7::bigint AND end_ms > $6::bigint)";
// The others that overlap the range or a cut hour: decoded.
constexpr const char* kRawEdge =
    "series_id = ANY($1::bigint[]) AND start_ms > $8::bigint - $10::bigint "
    "AND start_ms < $9::bigint AND end_ms > $8::bigint AND NOT (start_ms >= $2::bigint "
    "AND end_ms <= $3::bigint AND NOT (start_ms < $5::bigint AND end_ms > $4::bigint) "
    "AND NOT (start_ms < $7::bigint AND end_ms > $6::bigint))";

struct RawTable {
  const char* name;
  const char* bytes;  // what a row's samples take
  const char* samples;
  bool chunks;  // the array rows of releases before blocks (migration 0001)
};
constexpr RawTable kRawTables[] = {
    {"sample_blocks", "octet_length(data) + octet_length(tail)", "data || tail", false},
    {"chunks", "pg_column_size(ts_ms) + pg_column_size(vals)", "ts_ms, vals", true}};

// Rollup blocks span whole buckets [start_ms, end_ms): one wholly inside the range loses
// every bucket. $1 the series, $2 and $3 the range, $4 the longest block window.
constexpr const char* kRollupBlocksInside =
    "series_id = ANY($1::bigint[]) AND start_ms >= $2::bigint AND start_ms < $3::bigint "
    "AND end_ms <= $3::bigint";
constexpr const char* kRollupBlocksEdge =
    "series_id = ANY($1::bigint[]) AND start_ms > $2::bigint - $4::bigint "
    "AND start_ms < $3::bigint AND end_ms > $2::bigint "
    "AND NOT (start_ms >= $2::bigint AND end_ms <= $3::bigint)";
// Rollup rows of releases before blocks: one bucket a row; $4 the bucket width.
constexpr const char* kRollupRowsInside =
    "series_id = ANY($1::bigint[]) AND bucket_ms >= $2::bigint "
    "AND bucket_ms <= $3::bigint - $4::bigint";
constexpr const char* kRollupRowsEdge =
    "series_id = ANY($1::bigint[]) AND bucket_ms > $2::bigint - $4::bigint "
    "AND bucket_ms < $3::bigint "
    "AND NOT (bucket_ms >= $2::bigint AND bucket_ms <= $3::bigint - $4::bigint)";

struct RollupTable {
  const char* blocks;
  const char* rows;
  int64_t width_ms;
};
constexpr RollupTable kRollupTables[] = {{"rollup_1m_blocks", "rollup_1m", kMinuteMs},
                                         {"rollup_1h_blocks", "rollup_1h", kHourMs}};

constexpr const char* kEnsurePartition = "SELECT metricsd_ensure_partition($1, $2)";

std::string array_text(const std::vector<int64_t>& ids) {
  return fmt::format("{{{}}}", fmt::join(ids, ","));
}

// The rows `where` selects from `table`, as `columns`: read, or deleted (dry_run false).
std::string rows_sql(const char* table, const char* where, const std::string& columns,
                     bool dry_run) {
  return dry_run ? fmt::format("SELECT {} FROM {} WHERE {}", columns, table, where)
                 : fmt::format("DELETE FROM {} WHERE {} RETURNING {}", table, where, columns);
}

// Sums of `count` and `bytes` over the rows (read or deleted).
std::pair<int64_t, int64_t> sums(PgConnection& pg, const char* table, const char* where,
                                 const std::string& count, const std::string& bytes,
                                 const std::vector<std::string>& params, bool dry_run) {
  std::string cols = fmt::format("({})::bigint AS c, ({})::bigint AS b", count, bytes);
  auto r = pg.query(fmt::format("WITH d AS ({}) SELECT coalesce(sum(c), 0)::bigint, "
                                "coalesce(sum(b), 0)::bigint FROM d",
                                rows_sql(table, where, cols, dry_run))
                        .c_str(),
                    params, true);
  return {decode_int8(r->value(0, 0)), decode_int8(r->value(0, 1))};
}

void ensure_days(PgConnection& pg, const char* table, const std::set<int64_t>& days) {
  for (int64_t d : days)
    pg.query(kEnsurePartition, {table, std::to_string(d)}, false);
}

std::runtime_error corrupt(const char* table, int64_t series, int64_t start, const char* what) {
  return std::runtime_error(
      fmt::format("corrupt block in {} of series {} from {}: {}", table, series, start, what));
}

// The raw rows the range cuts: what goes is counted, every sample is shown to `cut`, and
// what stays is written back (real runs) under the row's series and window.
void raw_edges(PgConnection& pg, const RawTable& t, const std::vector<std::string>& params,
               const DeletionRange& range, bool dry_run, CutBuckets& cut, BlockDeletion& out) {
  auto rows = pg.query(
      rows_sql(t.name, kRawEdge,
               fmt::format("series_id, start_ms, end_ms, {}, ({})::bigint", t.samples, t.bytes),
               dry_run)
          .c_str(),
      params, true);
  CopyBinary copy;
  std::set<int64_t> days;
  std::vector<int64_t> ts, kept_ts;
  std::vector<double> values, kept_values;
  for (int i = 0; i < rows->rows(); ++i) {
    const int64_t id = decode_int8(rows->value(i, 0)), start = decode_int8(rows->value(i, 1)),
                  end = decode_int8(rows->value(i, 2));
    ts.clear();
    values.clear();
    if (t.chunks) {
      decode_int8_array(rows->value(i, 3), ts);
      decode_float8_array(rows->value(i, 4), values);
      if (ts.size() != values.size()) throw corrupt(t.name, id, start, "arrays differ in length");
    } else {
      try {
        decode_samples(rows->value(i, 3), ts, values);
      } catch (const CorruptBlock& e) {
        throw corrupt(t.name, id, start, e.what());
      }
    }
    kept_ts.clear();
    kept_values.clear();
    for (size_t k = 0; k < ts.size(); ++k) {
      cut.raw(id, ts[k], values[k]);
      if (range.contains(ts[k])) continue;
      kept_ts.push_back(ts[k]);
      kept_values.push_back(values[k]);
    }
    const auto gone = static_cast<int64_t>(ts.size() - kept_ts.size());
    if (gone > 0) {
      out.samples += gone;
      out.bytes +=
          decode_int8(rows->value(i, t.chunks ? 5 : 4)) -
          (kept_ts.empty() ? 0 : static_cast<int64_t>(encode_samples(kept_ts, kept_values).size()));
    }
    if (!dry_run && !kept_ts.empty()) {
      add_sample_block_rows(copy, id, start, end, kept_ts, kept_values);
      days.insert(floor_to(start, kDayMs));
    }
  }
  if (days.empty()) return;
  ensure_days(pg, "sample_blocks", days);
  pg.copy_in(kCopySampleBlocks, copy.finish());
}

// The rollup buckets of one tier: those inside the range go, those it cuts are replaced
// (CutBuckets), the rest of each block it touches is written back.
void rollup_edges(PgConnection& pg, const RollupTable& t, const std::string& ids,
                  const DeletionRange& range, bool dry_run, const CutBuckets& cut,
                  BlockDeletion& out) {
  const std::vector<std::string> params = {ids, std::to_string(range.from_ms),
                                           std::to_string(range.to_ms),
                                           std::to_string(kMaxBlockWindowMs)};
  const std::vector<std::string> row_params = {
      ids, std::to_string(range.from_ms), std::to_string(range.to_ms), std::to_string(t.width_ms)};
  std::map<std::pair<int64_t, int64_t>, std::vector<RollupBucket>> keep;  // (series, day)
  std::map<std::pair<int64_t, int64_t>, Aggregate> cuts;                  // (series, bucket)
  auto take = [&](int64_t id, const RollupBucket& b) {
    switch (range.cover(b.bucket_ms, t.width_ms)) {
      case DeletionRange::Cover::kNone:
        keep[{id, floor_to(b.bucket_ms, kDayMs)}].push_back(b);
        break;
      case DeletionRange::Cover::kWhole:
        ++out.buckets_removed;
        break;
      case DeletionRange::Cover::kCut:
        cuts[{id, b.bucket_ms}].merge(b.agg);
        break;
    }
  };
  int64_t old_bytes = 0;
  auto blocks = pg.query(
      rows_sql(
          t.blocks, kRollupBlocksEdge,
          "series_id, start_ms, data || tail, (octet_length(data) + octet_length(tail))::bigint",
          dry_run)
          .c_str(),
      params, true);
  std::vector<RollupBucket> buckets;
  for (int i = 0; i < blocks->rows(); ++i) {
    const int64_t id = decode_int8(blocks->value(i, 0));
    buckets.clear();
    try {
      decode_rollups(blocks->value(i, 2), buckets);
    } catch (const CorruptBlock& e) {
      throw corrupt(t.blocks, id, decode_int8(blocks->value(i, 1)), e.what());
    }
    for (const auto& b : buckets)
      take(id, b);
    old_bytes += decode_int8(blocks->value(i, 3));
  }
  auto rows =
      pg.query(rows_sql(t.rows, kRollupRowsEdge,
                        "series_id, bucket_ms, n::bigint, sum, min, max, last, last_ts_ms", dry_run)
                   .c_str(),
               row_params, true);
  for (int i = 0; i < rows->rows(); ++i) {
    RollupBucket b;
    b.bucket_ms = decode_int8(rows->value(i, 1));
    b.agg.n = decode_int8(rows->value(i, 2));
    b.agg.sum = decode_float8(rows->value(i, 3));
    b.agg.min = decode_float8(rows->value(i, 4));
    b.agg.max = decode_float8(rows->value(i, 5));
    b.agg.last = decode_float8(rows->value(i, 6));
    b.agg.last_ts_ms = decode_int8(rows->value(i, 7));
    take(decode_int8(rows->value(i, 0)), b);
  }
  for (const auto& [key, stored] : cuts) {
    if (auto left = cut.replacement(key.first, t.width_ms, key.second, stored)) {
      ++out.buckets_recomputed;
      keep[{key.first, floor_to(key.second, kDayMs)}].push_back({key.second, *left});
    } else {
      ++out.buckets_removed;
    }
  }
  CopyBinary copy;
  std::set<int64_t> days;
  int64_t new_bytes = 0;
  for (auto& [key, list] : keep) {
    std::stable_sort(list.begin(), list.end(), [](const RollupBucket& a, const RollupBucket& b) {
      return a.bucket_ms < b.bucket_ms;
    });
    std::vector<RollupBucket> merged;
    for (const auto& b : list) {
      if (!merged.empty() && merged.back().bucket_ms == b.bucket_ms)
        merged.back().agg.merge(b.agg);
      else
        merged.push_back(b);
    }
    new_bytes += static_cast<int64_t>(encode_rollups(merged).size());
    if (dry_run) continue;
    add_rollup_block_rows(copy, key.first, t.width_ms, merged);
    days.insert(key.second);
  }
  out.bytes += old_bytes - new_bytes;
  if (days.empty()) return;
  ensure_days(pg, t.blocks, days);
  pg.copy_in(fmt::format(kCopyRollupBlocks, t.blocks).c_str(), copy.finish());
}

}  // namespace

void BlockDeletion::add(const BlockDeletion& o) {
  samples += o.samples;
  bytes += o.bytes;
  buckets_removed += o.buckets_removed;
  buckets_recomputed += o.buckets_recomputed;
}

BlockDeletion delete_from_blocks(PgConnection& pg, const std::vector<int64_t>& series,
                                 const DeletionRange& range, bool dry_run) {
  BlockDeletion out;
  if (series.empty()) return out;
  const std::string ids = array_text(series);
  const auto first = range.first_cut_hour(), last = range.last_cut_hour();
  const auto wide = range.with_cut_hours();
  std::vector<std::string> params = {ids,
                                     std::to_string(range.from_ms),
                                     std::to_string(range.to_ms),
                                     std::to_string(first.lo),
                                     std::to_string(first.hi),
                                     std::to_string(last.lo),
                                     std::to_string(last.hi)};
  CutBuckets cut(range);
  for (const RawTable& t : kRawTables) {
    auto [n, bytes] = sums(pg, t.name, kRawInside, "n", t.bytes, params, dry_run);
    out.samples += n;
    out.bytes += bytes;
  }
  const std::vector<std::string> three(params.begin(), params.begin() + 3);
  for (const RollupTable& t : kRollupTables) {
    auto [n, bytes] = sums(pg, t.blocks, kRollupBlocksInside, "n",
                           "octet_length(data) + octet_length(tail)", three, dry_run);
    out.buckets_removed += n;
    out.bytes += bytes;
    std::vector<std::string> rows = three;
    rows.push_back(std::to_string(t.width_ms));
    out.buckets_removed += sums(pg, t.rows, kRollupRowsInside, "1", "0", rows, dry_run).first;
  }
  if (range.whole()) return out;  // nothing is cut: every row was inside
  // The raw samples first: the cut buckets are decided by them.
  params.insert(params.end(), {std::to_string(wide.lo), std::to_string(wide.hi),
                               std::to_string(kMaxBlockWindowMs)});
  for (const RawTable& t : kRawTables)
    raw_edges(pg, t, params, range, dry_run, cut, out);
  for (const RollupTable& t : kRollupTables)
    rollup_edges(pg, t, ids, range, dry_run, cut, out);
  return out;
}

}  // namespace metricsd::storage
