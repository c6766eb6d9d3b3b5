// metricsd-query-load --query: times the three queries against --url (after --warmup runs,
// --runs measured, one at a time on one keep-alive connection) and checks every answer
// against the data set; --settle first waits until the answers are complete.
#pragma once

#include "bench/query_data_set.hpp"
#include "bench/query_options.hpp"

namespace metricsd::bench {

// Prints a human line and a JSON line per query; 0 when every answer was right.
int time_queries(const QueryOptions& o, const DataSet& d);

}  // namespace metricsd::bench
