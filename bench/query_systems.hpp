// What metricsd-query-load asks each system (VictoriaMetrics, InfluxDB, metricsd) and how it
// reads their answers: the targets of the three queries, an answer reduced to comparable
// figures, and whether those match the data set.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "bench/query_data_set.hpp"
#include "bench/query_options.hpp"
#include "tools/common/http_client.hpp"

namespace metricsd::bench {

struct QueryDef {
  std::string name;  // range_1m, latest, latest_category
  bool range;
  std::string target;
  bool category = false;  // every field of every node, not one field
};

// The three queries for --query's system; `prefix` is the base URL's path.
std::vector<QueryDef> queries_for(const QueryOptions& o, const DataSet& d,
                                  const std::string& prefix);

// What an answer holds, reduced to figures that can be compared across systems.
struct Summary {
  bool ok = false;
  std::string error;
  size_t series = 0;
  size_t points = 0;  // non-null values over all series
  size_t nodes = 0;   // distinct nodes
  double checksum = 0;
};

// Range answers: one or more series of points [t, v]; latest answers: one value per series.
Summary summarize(const std::string& system, bool range, const tools::HttpReply& a);

// Whether an answer holds the data set's figures.
bool matches(const QueryDef& q, const Summary& s, const Expected& want);

}  // namespace metricsd::bench
