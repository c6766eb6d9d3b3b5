// metricsd-query-load's flags (declared once, tools/common/flags.hpp, for parsing and --help)
// and the HTTP client both of its modes use. Pure but for the client.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/load_options.hpp"
#include "tools/common/http_client.hpp"

namespace metricsd::bench {

inline constexpr int64_t kMinuteMs = 60'000;

struct QueryOptions {
  std::string load_url;
  std::string system;  // vm, influx, metricsd
  std::string url;     // base URL of the system to query
  int64_t end_ms = 0;  // 0: now, rounded down to a minute
  uint32_t nodes = 100;
  uint32_t fields = 20;
  uint32_t hours = 24;
  uint32_t interval_s = 10;
  uint32_t samples_per_request = 5000;
  uint32_t connections = 3;
  uint32_t runs = 20;
  uint32_t warmup = 3;
  std::string node = "node-0042";
  std::string field = "gpu_temp";
  bool vm_nocache = false;
  std::string label;  // reported system name; empty: --query's
  double settle_s = 0;
  std::vector<std::string> headers;
  double timeout_s = 60;
  uint64_t seed = 1;
  bool help = false;
};

// Throws UsageError naming the flag on an unknown flag, a bad value, or a combination that
// does not make one mode (--load URL, or --query SYSTEM with --url).
QueryOptions parse_query_options(int argc, char** argv);

std::string query_options_help();

// One keep-alive connection to `url`'s server, requests naming whole targets; answers up to
// 256 MiB (a whole category's latest values), --header on every request. The host is
// resolved here, once: a name that does not resolve fails the run at once (throws).
tools::HttpClient client_for(const tools::ServerUrl& url, const QueryOptions& o);

}  // namespace metricsd::bench
