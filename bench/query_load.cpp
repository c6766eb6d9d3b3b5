// metricsd-query-load: the peers' query benchmark (PEERS.md, "Query figures"). Two modes:
//
//   --load URL           writes the data set (24 h at 10 s for 100 nodes x 20 metrics, one
//                        line-protocol line per node and timestamp, ms precision) to URL
//   --query SYSTEM --url BASE
//                        times the queries against vm, influx or metricsd and checks the
//                        answers against the data set, computed here from the same generator
//
// The data set is fixed by --end-ms (a whole minute): samples lie at end - 24 h + 5 s + k * 10 s,
// so every minute of [end - 24 h, end) holds exactly 6 samples and no sample sits on a minute
// boundary (where "the minute ending at t" and "the minute starting at t" would differ).
// Values come from the ingest tool's generator (workload.hpp), so every system gets the same
// bytes, and the expected answers can be computed here.
//
// query_options: flags; query_data_set: the data set and the expected answers;
// query_data_load: --load; query_systems: each system's queries and answers; query_timing:
// --query.
#include <exception>
#include <iostream>
#include <string>

#include "bench/query_data_load.hpp"
#include "bench/query_data_set.hpp"
#include "bench/query_options.hpp"
#include "bench/query_timing.hpp"

int main(int argc, char** argv) {
  using namespace metricsd::bench;
  try {
    const QueryOptions o = parse_query_options(argc, argv);
    if (o.help) {
      std::cout << query_options_help();
      return 0;
    }
    const DataSet d = make_data_set(o);
    return o.load_url.empty() ? time_queries(o, d) : load_data_set(o, d);
  } catch (const UsageError& e) {
    const std::string what = e.what();
    std::cerr << "error: " << what
              << (what.find("--help") == std::string::npos ? "\n(see --help)\n" : "\n");
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}
