// metricsd-ingest-load's flags (see load_options.hpp).
#include "bench/load_options.hpp"

#include <stdexcept>

#include "tools/common/http_client.hpp"

namespace metricsd::bench {
namespace {

constexpr uint32_t kMaxConnections = 64;
constexpr double kMaxDurationS = 600;
constexpr double kMaxWarmupS = 60;

// The flags, bound to `o`; its values now are the defaults --help shows.
void declare(tools::FlagSet& flags, LoadOptions& o) {
  flags.add("url", &o.url)
      .arg("URL")
      .help(
          "where to POST (plain http). Default: http://127.0.0.1:8080/api/v1/write for lp, "
          "http://127.0.0.1:8080/api/v1/metrics for json. VictoriaMetrics: "
          "http://127.0.0.1:8428/write, InfluxDB: http://127.0.0.1:8086/write?db=bench")
      .default_text("per format");
  flags
      .add("format",
           [&o](const std::string& v) {
             if (v == "lp") {
               o.format = Format::line_protocol;
             } else if (v == "json") {
               o.format = Format::json;
             } else {
               throw std::invalid_argument("expected lp or json, got '" + v + "'");
             }
           })
      .arg("lp|json")
      .help("body format: InfluxDB line protocol, or metricsd's POST /api/v1/metrics JSON")
      .default_text(o.format == Format::line_protocol ? "lp" : "json");
  flags.add("nodes", &o.nodes)
      .arg("N")
      .help("nodes (tag node=node-0000...); series = nodes x fields")
      .range(1, 10'000'000);
  flags.add("fields", &o.fields)
      .arg("N")
      .help("numeric fields per line (20 named ones, then field_21, ...)")
      .range(1, 1000);
  flags.add("samples-per-request", &o.samples_per_request)
      .arg("N")
      .help("samples per POST; rounded down to whole lines of --fields samples")
      .range(1, 10'000'000);
  flags.add("connections", &o.connections)
      .arg("N")
      .help("keep-alive connections, each on its own thread with one request in flight")
      .range(1, kMaxConnections);
  flags.add("duration", &o.duration_s)
      .arg("SECONDS")
      .help("measured time, after the warm-up")
      .range(0.1, kMaxDurationS);
  flags.add("warmup", &o.warmup_s)
      .arg("SECONDS")
      .help("load sent before measuring, not counted")
      .range(0, kMaxWarmupS);
  flags.add_list("header", &o.headers, [](const std::string& v) { tools::parse_header_line(v); })
      .arg("'NAME: VALUE'")
      .help(
          "extra request header, repeatable (e.g. 'Authorization: Bearer X'); a Content-Type "
          "given here replaces the format's");
  flags.add("seed", &o.seed).arg("N").help("seed of the values (same seed, same bodies)");
  flags.add("ring", &o.ring)
      .arg("N")
      .help(
          "bodies pre-built per connection; reused with rewritten timestamps (rounded up so the "
          "ring holds whole rounds, shrunk to fit --max-payload-mib)")
      .range(1, 1'000'000);
  flags.add("max-payload-mib", &o.max_payload_mib)
      .arg("MIB")
      .help("memory bound for all pre-built bodies")
      .range(1, 16384);
  flags.add("rate-ceiling", &o.rate_ceiling)
      .arg("SAMPLES_PER_S")
      .help(
          "fastest rate the timestamps are sized for: rounds are spaced so that warm-up + "
          "duration at this rate span [now-6h, now]; faster runs wrap to now-6h")
      .range(1, 1e10);
  flags.add("step-ms", &o.step_ms)
      .arg("MS")
      .help("milliseconds between rounds; 0 derives it from --rate-ceiling")
      .range(0, 3'600'000);
  flags.add("timeout", &o.timeout_s)
      .arg("SECONDS")
      .help("per request (connect, send and answer)")
      .range(0.1, 600);
  flags.add("help", &o.help).help("print this help and exit");
}

}  // namespace

std::string LoadOptions::effective_url() const {
  if (!url.empty()) return url;
  return format == Format::line_protocol ? "http://127.0.0.1:8080/api/v1/write"
                                         : "http://127.0.0.1:8080/api/v1/metrics";
}

LoadOptions parse_load_options(int argc, char** argv) {
  LoadOptions o;
  tools::FlagSet flags;
  declare(flags, o);
  flags.parse(argc, argv);
  return o;
}

std::string load_options_help(const char* program) {
  LoadOptions defaults;
  tools::FlagSet flags;
  declare(flags, defaults);
  return std::string("Usage: ") + program +
         " [flags]\n"
         "POSTs the peers' ingest workload (PEERS.md: nodes x fields series, one\n"
         "line-protocol line per node and timestamp, timestamps rising within the last\n"
         "6 h) to a URL over keep-alive HTTP/1.1 connections, then prints samples/s\n"
         "accepted (2xx), errors by status, latency percentiles and the client's CPU,\n"
         "as one human line and one JSON line.\n\nFlags:\n" +
         flags.help();
}

}  // namespace metricsd::bench
