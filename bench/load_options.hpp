// Command-line options of metricsd-ingest-load, declared once (tools/common/flags.hpp) for
// parsing and --help. Pure: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/workload.hpp"
#include "tools/common/flags.hpp"

namespace metricsd::bench {

struct LoadOptions {
  std::string url;  // empty: the format's metricsd endpoint on 127.0.0.1:8080
  Format format = Format::line_protocol;
  uint32_t nodes = 1000;
  uint32_t fields = 20;
  uint32_t samples_per_request = 5000;
  uint32_t connections = 1;
  double duration_s = 20;
  double warmup_s = 2;
  std::vector<std::string> headers;  // "Name: value"
  uint64_t seed = 1;
  uint32_t ring = 256;  // pre-built bodies per connection
  uint32_t max_payload_mib = 1024;
  double rate_ceiling = 20e6;  // samples/s the timestamp step is sized for
  int64_t step_ms = 0;         // 0: derived from rate_ceiling
  double timeout_s = 30;
  bool help = false;

  std::string effective_url() const;
};

// A bad command line (the bench tools exit 2 on it): the tools' FlagError.
using UsageError = tools::FlagError;

// Throws UsageError naming the flag on an unknown flag or a bad or out-of-range value.
LoadOptions parse_load_options(int argc, char** argv);

std::string load_options_help(const char* program);

}  // namespace metricsd::bench
