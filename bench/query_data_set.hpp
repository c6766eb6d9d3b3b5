// metricsd-query-load's data set (see query_load.cpp) and what each query must answer over
// it, computed from the same generator (workload.hpp) that writes it.
#pragma once

#include <cstdint>
#include <string>

#include "bench/query_options.hpp"
#include "bench/workload.hpp"

namespace metricsd::bench {

// The data set: rounds of one line per node, `interval` apart, the first half an interval
// after from_ms; the query window is [from_ms, to_ms).
struct DataSet {
  WorkloadSpec spec;
  uint64_t rounds = 0;
  int64_t from_ms = 0;
  int64_t to_ms = 0;
};

DataSet make_data_set(const QueryOptions& o);

// The body with millisecond timestamps (workload.cpp writes nanoseconds).
std::string with_ms_stamps(const Payload& p);

// What each query must answer, from the generator itself.
struct Expected {
  size_t range_points = 0;
  double range_checksum = 0;  // sum of the 1-minute averages
  size_t latest_nodes = 0;
  double latest_checksum = 0;    // sum of every node's latest value
  size_t category_points = 0;    // every field of every node
  double category_checksum = 0;  // sum of their latest values
};

// Throws UsageError when --node or --field is not in the data.
Expected expect(const QueryOptions& o, const DataSet& d);

}  // namespace metricsd::bench
