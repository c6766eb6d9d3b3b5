// QueryReader: the bucketed values of a set of series over a range, combining the stored
// tier that answers the step exactly (raw chunks, 1-minute or 1-hour rollups; raw chunks
// for the unaligned ends of a rollup read, see plan_read) with the in-memory head, so
// that every sample counts once whichever tier answers.
// Rollup days a query reads are kept in the TierCache: when all are held, the answer is
// built on the calling (io) thread without the database, checked against the head's tiers
// generation; otherwise a read-pool thread reads the missing days (or, for reads too large
// to cache, exactly the range) under the head's tiers lock.
//
// Threads: run() from any io thread, concurrently. Locks: the head's tiers_mutex is taken
// shared on the read-pool thread only (never on an io thread, where it could wait on a
// compaction's commit); the io-thread path takes no lock and instead checks that the
// head's tiers generation was the same even number before and after it read.
// Cache policy: a read fills the cache when its days fit kMaxFillRows; exports pass
// Keep::kNo so they do not push out what dashboards ask for.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <stdexcept>
#include <vector>

#include "core/head.hpp"
#include "core/prom.hpp"
#include "core/query_plan.hpp"
#include "core/tier_cache.hpp"
#include "storage/database.hpp"

namespace metricsd::query {

// A read outlived query.timeout_ms (the database cancelled it).
class QueryTimedOut : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class QueryReader {
 public:
  QueryReader(storage::Database& db, const Head& head, TierCache& cache, int64_t timeout_ms,
              prom::Registry& metrics);

  // Whether rollup days read from the database are kept in the cache (an export's are
  // not: they would push out what dashboards keep asking for).
  enum class Keep { kYes, kNo };
  // Points per series id, in the order given. Throws storage::Unavailable when the
  // database is not ready, QueryTimedOut when the read outlives query.timeout_ms.
  boost::asio::awaitable<std::vector<Points>> run(const std::vector<int64_t>& ids,
                                                  const QueryRange& r, Keep keep = Keep::kYes);

 private:
  std::optional<std::vector<Points>> from_cache(const std::vector<int64_t>& ids,
                                                const QueryRange& r, const ReadPlan& p) const;
  // On a storage thread, under the tiers lock.
  std::vector<Points> through_cache(pqxx::transaction_base& tx, const std::vector<int64_t>& ids,
                                    const QueryRange& r, const ReadPlan& p, Keep keep) const;
  std::vector<Points> direct(pqxx::transaction_base& tx, const std::vector<int64_t>& ids,
                             const QueryRange& r, const ReadPlan& p) const;

  storage::Database& db_;
  const Head& head_;
  TierCache& cache_;
  const int64_t timeout_ms_;
  prom::Family<prom::Counter>& tiers_;
  prom::Family<prom::Counter>& cache_answers_;
};

}  // namespace metricsd::query
