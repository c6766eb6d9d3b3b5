// Series deletion; see series_delete.hpp.
#include "storage/series_delete.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>
#include <shared_mutex>

#include "storage/block_delete.hpp"
#include "storage/compactor.hpp"

namespace metricsd::storage {
namespace {

// Series per pass over the block tables: a range deletion holds the cut blocks of a pass
// in memory (a day's block of 10-second samples decodes to about 140 kB); a whole one
// reads no block.
constexpr size_t kRangeBatch = 64;
constexpr size_t kWholeBatch = 1024;
// What a sample takes in an inbox row: its series id, time and value.
constexpr int64_t kInboxSampleBytes = 24;

constexpr const char* kLock = "SELECT pg_advisory_xact_lock($1)";
// Inbox rows that may hold samples in [$1, $2), but for those already seen ($3).
constexpr const char* kInboxRows =
    "SELECT batch_id FROM inbox WHERE max_ts_ms >= $1::bigint AND min_ts_ms < $2::bigint "
    "AND NOT (batch_id = ANY($3::bigint[]))";
// Samples of the series ($1) in [$2, $3) in the inbox.
constexpr const char* kInboxCount = R"(
WITH doomed AS (SELECT DISTINCT unnest($1::bigint[]) AS sid)
SELECT count(*)::bigint FROM inbox i
CROSS JOIN LATERAL unnest(i.series_ids, i.ts_ms) AS x(sid, t)
JOIN doomed d ON d.sid = x.sid
WHERE i.max_ts_ms >= $2::bigint AND i.min_ts_ms < $3::bigint
  AND x.t >= $2::bigint AND x.t < $3::bigint)";
// Takes the samples of the series ($1) in [$2, $3) out of the inbox rows $4: a row keeps
// the rest in their order (with its batch id, bounds and count updated), a row left empty
// goes. Answers the samples taken.
constexpr const char* kInboxRewrite = R"(
WITH doomed AS (SELECT DISTINCT unnest($1::bigint[]) AS sid),
u AS (
  SELECT i.batch_id, x.sid, x.t, x.v, x.o,
         (d.sid IS NOT NULL AND x.t >= $2::bigint AND x.t < $3::bigint) AS gone
  FROM inbox i
  CROSS JOIN LATERAL unnest(i.series_ids, i.ts_ms, i.vals) WITH ORDINALITY AS x(sid, t, v, o)
  LEFT JOIN doomed d ON d.sid = x.sid
  WHERE i.batch_id = ANY($4::bigint[])),
hit AS (
  SELECT batch_id, count(*) FILTER (WHERE gone) AS n_gone,
         count(*) FILTER (WHERE NOT gone) AS n_kept
  FROM u GROUP BY batch_id HAVING bool_or(gone)),
kept AS (
  SELECT u.batch_id, array_agg(u.sid ORDER BY u.o) AS sids, array_agg(u.t ORDER BY u.o) AS ts,
         array_agg(u.v ORDER BY u.o) AS vals, count(*)::int AS n, min(u.t) AS lo, max(u.t) AS hi
  FROM u JOIN hit h USING (batch_id) WHERE NOT u.gone GROUP BY u.batch_id),
upd AS (
  UPDATE inbox i SET series_ids = k.sids, ts_ms = k.ts, vals = k.vals, n = k.n,
                     min_ts_ms = k.lo, max_ts_ms = k.hi
  FROM kept k WHERE i.batch_id = k.batch_id RETURNING 1),
del AS (
  DELETE FROM inbox i USING hit h WHERE i.batch_id = h.batch_id AND h.n_kept = 0 RETURNING 1)
SELECT coalesce((SELECT sum(n_gone) FROM hit), 0)::bigint, (SELECT count(*) FROM upd),
       (SELECT count(*) FROM del))";
constexpr const char* kDeleteSeries =
    "WITH d AS (DELETE FROM series WHERE series_id = ANY($1::bigint[]) RETURNING 1) "
    "SELECT count(*)::bigint FROM d";
// The newest block (or chunk) of each series, as the head's rebuild finds latest values.
constexpr const char* kStoredLatest = R"(
SELECT d.sid, c.last_ts_ms, c.last FROM unnest($1::bigint[]) AS d(sid)
CROSS JOIN LATERAL (
  (SELECT last_ts_ms, last FROM chunks WHERE series_id = d.sid
   ORDER BY start_ms DESC, last_ts_ms DESC LIMIT 1)
  UNION ALL
  (SELECT last_ts_ms, last FROM sample_blocks WHERE series_id = d.sid
   ORDER BY start_ms DESC, last_ts_ms DESC LIMIT 1)
  ORDER BY last_ts_ms DESC LIMIT 1) c)";
// As storage/token_store writes audit rows; text parameters, so the token id as text.
constexpr const char* kAudit =
    "INSERT INTO audit_log (token_id, token_name, source_addr, action, target, outcome, "
    "details) VALUES (NULLIF($1, '')::bigint, $2, $3, $4, $5, $6, $7::jsonb)";

std::string array_text(const std::vector<int64_t>& ids) {
  return fmt::format("{{{}}}", fmt::join(ids, ","));
}

template <class Fn>
void in_batches(const std::vector<int64_t>& ids, size_t size, Fn&& fn) {
  for (size_t at = 0; at < ids.size(); at += size) {
    auto end = ids.begin() + static_cast<ptrdiff_t>(std::min(ids.size(), at + size));
    fn(std::vector<int64_t>(ids.begin() + static_cast<ptrdiff_t>(at), end));
  }
}

void rollback(PgConnection& pg) {
  if (pg.broken()) return;
  try {
    pg.exec("ROLLBACK");
  } catch (...) {
  }
}

std::vector<int64_t> inbox_rows(PgConnection& pg, const DeletionRange& r,
                                const std::vector<int64_t>& seen) {
  auto res = pg.query(kInboxRows,
                      {std::to_string(r.from_ms), std::to_string(r.to_ms), array_text(seen)}, true);
  std::vector<int64_t> out;
  for (int i = 0; i < res->rows(); ++i)
    out.push_back(decode_int8(res->value(i, 0)));
  return out;
}

int64_t rewrite_inbox(PgConnection& pg, const std::string& ids, const DeletionRange& r,
                      const std::vector<int64_t>& rows) {
  if (rows.empty()) return 0;
  auto res =
      pg.query(kInboxRewrite,
               {ids, std::to_string(r.from_ms), std::to_string(r.to_ms), array_text(rows)}, true);
  return decode_int8(res->value(0, 0));
}

std::string audit_details(const SeriesDeletion& d, const DeletionCounts& c) {
  auto j = nlohmann::json::parse(d.audit.details_json, nullptr, false);
  if (!j.is_object()) j = nlohmann::json::object();
  j["deleted"] = {{"series", c.series},
                  {"series_removed", c.series_removed},
                  {"samples", c.samples},
                  {"bytes", c.bytes},
                  {"rollup_buckets_removed", c.buckets_removed},
                  {"rollup_buckets_recomputed", c.buckets_recomputed}};
  return j.dump();
}

}  // namespace

DeletionCounts SeriesDeleter::run(const SeriesDeletion& d) {
  return d.dry_run ? count(d) : remove(d);
}

DeletionCounts SeriesDeleter::count(const SeriesDeletion& d) {
  DeletionCounts c;
  c.series = static_cast<int64_t>(d.series.size());
  // One snapshot: a sample a compaction moves meanwhile is counted once.
  pg_.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  try {
    BlockDeletion blocks;
    in_batches(d.series, d.range.whole() ? kWholeBatch : kRangeBatch,
               [&](const std::vector<int64_t>& batch) {
                 blocks.add(delete_from_blocks(pg_, batch, d.range, true));
               });
    auto inbox = decode_int8(pg_.query(kInboxCount,
                                       {array_text(d.series), std::to_string(d.range.from_ms),
                                        std::to_string(d.range.to_ms)},
                                       true)
                                 ->value(0, 0));
    pg_.exec("COMMIT");
    c.samples = blocks.samples + inbox;
    c.bytes = blocks.bytes + inbox * kInboxSampleBytes;
    c.buckets_removed = blocks.buckets_removed;
    c.buckets_recomputed = blocks.buckets_recomputed;
    if (d.range.whole()) c.series_removed = c.series;
    return c;
  } catch (...) {
    rollback(pg_);
    throw;
  }
}

std::vector<std::optional<Head::Point>> SeriesDeleter::stored_latest(
    const std::vector<int64_t>& series) {
  std::vector<std::optional<Head::Point>> out(series.size());
  in_batches(series, kWholeBatch, [&](const std::vector<int64_t>& batch) {
    auto r = pg_.query(kStoredLatest, {array_text(batch)}, true);
    for (int i = 0; i < r->rows(); ++i) {
      const int64_t id = decode_int8(r->value(i, 0));
      auto at = std::lower_bound(series.begin(), series.end(), id);
      out[static_cast<size_t>(at - series.begin())] =
          Head::Point{decode_int8(r->value(i, 1)), decode_float8(r->value(i, 2))};
    }
  });
  return out;
}

DeletionCounts SeriesDeleter::remove(const SeriesDeletion& d) {
  DeletionCounts c;
  c.series = static_cast<int64_t>(d.series.size());
  const std::string ids = array_text(d.series);
  pg_.exec("BEGIN");
  try {
    // Waits for a compaction, merge or partition upkeep in progress (any daemon's), and
    // keeps them out until the commit.
    pg_.query(kLock, {std::to_string(kCompactionLockKey)}, false);
    BlockDeletion blocks;
    in_batches(d.series, d.range.whole() ? kWholeBatch : kRangeBatch,
               [&](const std::vector<int64_t>& batch) {
                 blocks.add(delete_from_blocks(pg_, batch, d.range, false));
               });
    std::vector<std::optional<Head::Point>> latest(d.series.size());
    if (!d.range.whole()) latest = stored_latest(d.series);
    // The inbox rows committed so far; commits go on meanwhile.
    const std::vector<int64_t> seen = inbox_rows(pg_, d.range, {});
    int64_t inbox = rewrite_inbox(pg_, ids, d.range, seen);
    {
      // No commit from here on until the samples left the head (core/commit_gate.hpp).
      auto gate = gate_.exclusive();
      inbox += rewrite_inbox(pg_, ids, d.range, inbox_rows(pg_, d.range, seen));
      c.samples = blocks.samples + inbox;
      c.bytes = blocks.bytes + inbox * kInboxSampleBytes;
      c.buckets_removed = blocks.buckets_removed;
      c.buckets_recomputed = blocks.buckets_recomputed;
      if (d.range.whole())
        c.series_removed = decode_int8(pg_.query(kDeleteSeries, {ids}, true)->value(0, 0));
      const AuditEntry& a = d.audit;
      pg_.query(kAudit,
                {a.token_id ? std::to_string(*a.token_id) : "", a.token_name, a.source_addr,
                 a.action, a.target, a.outcome, audit_details(d, c)},
                false);
      {
        // As a compaction commits: readers under the tiers lock wait, those without it see
        // the generation change (core/head.hpp).
        std::unique_lock tiers(head_.tiers_mutex());
        head_.begin_tiers_change();
        struct End {
          Head& h;
          ~End() { h.end_tiers_change(); }
        } end{head_};
        cache_.invalidate_series(d.series, d.range.from_ms, d.range.to_ms);
        pg_.exec("COMMIT");
        for (size_t i = 0; i < d.series.size(); ++i)
          head_.erase(d.series[i], d.range.from_ms, d.range.to_ms, latest[i]);
      }
      if (d.range.whole()) {
        registry_.remove(d.series);
        gate_.bury(d.series);
      }
    }
    return c;
  } catch (...) {
    rollback(pg_);
    throw;
  }
}

}  // namespace metricsd::storage
