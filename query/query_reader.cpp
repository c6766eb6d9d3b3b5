// Reads behind /api/v1/query; see query_reader.hpp.
#include "query/query_reader.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <atomic>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "storage/query_store.hpp"

namespace metricsd::query {
namespace {

// An answer from cached days is built on the io thread only while it is this small.
constexpr size_t kMaxDaysOnIo = 4096;
constexpr size_t kMaxRowsOnIo = 50'000;
// A miss reads whole days into the cache only while they are at most this many rows;
// larger reads take exactly the range and bypass the cache.
constexpr int64_t kMaxFillRows = 1'000'000;

int64_t rows_per_day(Tier tier) {
  return tier == Tier::kRollup1h ? kDayMs / kHourMs : kDayMs / kMinuteMs;
}

struct Days {
  int64_t first, last;  // the UTC days [first, last] that the plan's tier reads
  size_t count() const { return static_cast<size_t>((last - first) / kDayMs + 1); }
};
Days days_of(const ReadPlan& p) {
  return {floor_to(p.inner_from, kDayMs), floor_to(p.inner_to - 1, kDayMs)};
}

using Samples = std::vector<std::pair<int64_t, double>>;

// Stored samples of the raw ends (see plan_read), fn(series, ts, value).
void read_raw_ends(pqxx::transaction_base& tx, const std::vector<int64_t>& ids, const QueryRange& r,
                   const ReadPlan& p, const std::function<void(int64_t, int64_t, double)>& fn) {
  if (p.inner_from > r.from_ms) storage::read_chunk_samples(tx, ids, r.from_ms, p.inner_from, fn);
  if (p.inner_to < r.to_ms) storage::read_chunk_samples(tx, ids, p.inner_to, r.to_ms, fn);
}

Points bucket(const std::vector<TierCache::Day>& days, const Samples& ends,
              const std::vector<Head::Point>& recent, const QueryRange& r, const ReadPlan& p) {
  OrderedBuckets b(r.from_ms, r.to_ms, r.step_ms);
  for (const auto& day : days) {
    auto it = std::lower_bound(day->begin(), day->end(), p.inner_from,
                               [](const StoredBucket& s, int64_t t) { return s.bucket_ms < t; });
    for (; it != day->end() && it->bucket_ms < p.inner_to; ++it)
      b.add(it->bucket_ms, it->agg);
  }
  for (const auto& [t, v] : ends)
    b.add(t, v);
  for (const auto& pt : recent)
    b.add(pt.ts_ms, pt.value);
  return b.points(r.agg);
}

}  // namespace

QueryReader::QueryReader(storage::Database& db, const Head& head, TierCache& cache,
                         int64_t timeout_ms, prom::Registry& metrics)
    : db_(db),
      head_(head),
      cache_(cache),
      timeout_ms_(timeout_ms),
      tiers_(metrics.counter("metricsd_query_tier_total",
                             "Queries answered, by the stored tier read", {"tier"})),
      cache_answers_(metrics.counter(
          "metricsd_query_cache_total",
          "Rollup-tier reads by whether cached days answered them without the database",
          {"result"})) {}

boost::asio::awaitable<std::vector<Points>> QueryReader::run(const std::vector<int64_t>& ids,
                                                             const QueryRange& r, Keep keep) {
  ReadPlan plan = plan_read(r.from_ms, r.to_ms, r.step_ms);
  tiers_.with({std::string(to_string(plan.tier))}).inc();
  if (ids.empty()) co_return std::vector<Points>{};
  // Also before the cache: while the database comes back, the head is being rebuilt.
  if (!db_.ready()) throw storage::Unavailable(db_.not_ready_reason());
  bool cached = plan.tier != Tier::kRaw && cache_.enabled();
  if (cached && !plan.has_raw_ends(r.from_ms, r.to_ms)) {
    if (auto hit = from_cache(ids, r, plan)) {
      cache_answers_.with({"hit"}).inc();
      co_return std::move(*hit);
    }
    cache_answers_.with({"miss"}).inc();
  }
  Days days = days_of(plan);
  bool fill = cached && static_cast<int64_t>(days.count()) * rows_per_day(plan.tier) *
                                static_cast<int64_t>(ids.size()) <=
                            kMaxFillRows;
  try {
    co_return co_await db_.read_pool().run([&](pqxx::connection& c) {
      // Stored tiers and the head under one shared lock: a compaction cannot move samples
      // between them meanwhile, so each sample is counted once. One statement each, so no
      // transaction; the read pool's sessions carry statement_timeout.
      std::shared_lock lock(head_.tiers_mutex());
      pqxx::nontransaction tx(c);
      return fill ? through_cache(tx, ids, r, plan, keep) : direct(tx, ids, r, plan);
    });
  } catch (const pqxx::sql_error& e) {
    if (e.sqlstate() != "57014") throw;  // 57014: cancelled by statement_timeout
    throw QueryTimedOut(
        fmt::format("the query took longer than query.timeout_ms ({} ms); narrow the range or "
                    "the series",
                    timeout_ms_));
  }
}

std::optional<std::vector<Points>> QueryReader::from_cache(const std::vector<int64_t>& ids,
                                                           const QueryRange& r,
                                                           const ReadPlan& p) const {
  uint64_t generation = head_.tiers_generation();
  if (generation & 1) return std::nullopt;  // a compaction is committing
  Days days = days_of(p);
  if (days.count() * ids.size() > kMaxDaysOnIo) return std::nullopt;
  std::vector<std::vector<TierCache::Day>> held(ids.size());
  size_t rows = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    for (int64_t d = days.first; d <= days.last; d += kDayMs) {
      auto day = cache_.find(p.tier, ids[i], d);
      if (!day) return std::nullopt;
      rows += day->size();
      if (rows > kMaxRowsOnIo) return std::nullopt;
      held[i].push_back(std::move(day));
    }
  }
  std::vector<std::vector<Head::Point>> recent(ids.size());
  for (size_t i = 0; i < ids.size(); ++i)
    recent[i] = head_.range(ids[i], r.from_ms, r.to_ms);
  // Had a compaction moved samples meanwhile, a sample could be missing or counted twice.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (head_.tiers_generation() != generation) return std::nullopt;
  std::vector<Points> out;
  out.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i)
    out.push_back(bucket(held[i], {}, recent[i], r, p));
  return out;
}

std::vector<Points> QueryReader::through_cache(pqxx::transaction_base& tx,
                                               const std::vector<int64_t>& ids, const QueryRange& r,
                                               const ReadPlan& p, Keep keep) const {
  const Tier tier = p.tier;
  Days days = days_of(p);
  size_t n_days = days.count();
  std::vector<std::vector<TierCache::Day>> held(ids.size(), std::vector<TierCache::Day>(n_days));
  std::vector<int64_t> missing;  // series with at least one day not held
  std::unordered_map<int64_t, size_t> slot;
  int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
  for (size_t i = 0; i < ids.size(); ++i) {
    bool any = false;
    for (size_t k = 0; k < n_days; ++k) {
      int64_t d = days.first + static_cast<int64_t>(k) * kDayMs;
      held[i][k] = cache_.find(tier, ids[i], d);
      if (held[i][k]) continue;
      any = true;
      lo = std::min(lo, d);
      hi = std::max(hi, d);
    }
    if (any && slot.emplace(ids[i], missing.size()).second) missing.push_back(ids[i]);
  }
  if (!missing.empty()) {
    size_t span = static_cast<size_t>((hi - lo) / kDayMs + 1);
    std::vector<std::vector<std::vector<StoredBucket>>> fetched(
        missing.size(), std::vector<std::vector<StoredBucket>>(span));
    storage::read_rollups(tx, tier, missing, lo, hi + kDayMs,
                          [&](int64_t id, int64_t b, const Aggregate& a) {
                            auto k = static_cast<size_t>((floor_to(b, kDayMs) - lo) / kDayMs);
                            fetched[slot.at(id)][k].push_back({b, a});
                          });
    for (size_t i = 0; i < ids.size(); ++i) {
      auto it = slot.find(ids[i]);
      if (it == slot.end()) continue;
      for (size_t k = 0; k < n_days; ++k) {
        if (held[i][k]) continue;
        int64_t d = days.first + static_cast<int64_t>(k) * kDayMs;
        auto& rows = fetched[it->second][static_cast<size_t>((d - lo) / kDayMs)];
        std::sort(rows.begin(), rows.end(), [](const StoredBucket& a, const StoredBucket& b) {
          return a.bucket_ms < b.bucket_ms;
        });
        held[i][k] = std::make_shared<const std::vector<StoredBucket>>(std::move(rows));
        if (keep == Keep::kYes) cache_.put(tier, ids[i], d, held[i][k]);
      }
    }
  }
  std::vector<Samples> ends(ids.size());
  if (p.has_raw_ends(r.from_ms, r.to_ms)) {
    std::unordered_map<int64_t, size_t> index;
    for (size_t i = 0; i < ids.size(); ++i)
      index.emplace(ids[i], i);
    read_raw_ends(tx, ids, r, p,
                  [&](int64_t id, int64_t t, double v) { ends[index.at(id)].emplace_back(t, v); });
  }
  std::vector<Points> out;
  out.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i)
    out.push_back(bucket(held[i], ends[i], head_.range(ids[i], r.from_ms, r.to_ms), r, p));
  return out;
}

std::vector<Points> QueryReader::direct(pqxx::transaction_base& tx, const std::vector<int64_t>& ids,
                                        const QueryRange& r, const ReadPlan& p) const {
  std::unordered_map<int64_t, size_t> index;
  for (size_t i = 0; i < ids.size(); ++i)
    index.emplace(ids[i], i);
  std::vector<BucketAccumulator> acc(ids.size(), BucketAccumulator(r.from_ms, r.to_ms, r.step_ms));
  auto sample = [&](int64_t id, int64_t t, double v) { acc[index.at(id)].add(t, v); };
  if (p.tier == Tier::kRaw) {
    storage::read_chunk_samples(tx, ids, r.from_ms, r.to_ms, sample);
  } else {
    storage::read_rollups(
        tx, p.tier, ids, p.inner_from, p.inner_to,
        [&](int64_t id, int64_t b, const Aggregate& a) { acc[index.at(id)].add(b, a); });
    read_raw_ends(tx, ids, r, p, sample);
  }
  for (size_t i = 0; i < ids.size(); ++i)
    for (const auto& pt : head_.range(ids[i], r.from_ms, r.to_ms))
      acc[i].add(pt.ts_ms, pt.value);
  std::vector<Points> out;
  out.reserve(ids.size());
  for (const auto& a : acc)
    out.push_back(a.points(r.agg));
  return out;
}

}  // namespace metricsd::query
