// Reads for queries: raw samples from chunk rows and aggregates from the rollup tiers,
// for a set of series and a time range. Runs on a storage thread.
#pragma once

#include <cstdint>
#include <functional>
#include <pqxx/pqxx>
#include <vector>

#include "core/compaction.hpp"
#include "core/query_plan.hpp"

namespace metricsd::storage {

// fn(series_id, ts_ms, value) for every stored sample in [from, to) (unordered).
void read_chunk_samples(pqxx::transaction_base& tx, const std::vector<int64_t>& series,
                        int64_t from_ms, int64_t to_ms,
                        const std::function<void(int64_t, int64_t, double)>& fn);

// fn(series_id, bucket_ms, aggregate) for each rollup bucket starting in [from, to).
void read_rollups(pqxx::transaction_base& tx, Tier tier, const std::vector<int64_t>& series,
                  int64_t from_ms, int64_t to_ms,
                  const std::function<void(int64_t, int64_t, const Aggregate&)>& fn);

}  // namespace metricsd::storage
