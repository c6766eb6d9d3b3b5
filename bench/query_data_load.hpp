// metricsd-query-load --load: writes the data set to --load URL as line protocol over
// --connections keep-alive connections, retrying 5xx, 429 and I/O failures.
#pragma once

#include "bench/query_data_set.hpp"
#include "bench/query_options.hpp"

namespace metricsd::bench {

// Prints what was written (one human line, one JSON line); 0 when all of it was accepted.
int load_data_set(const QueryOptions& o, const DataSet& d);

}  // namespace metricsd::bench
