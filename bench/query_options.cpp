// metricsd-query-load's flags (see query_options.hpp).
#include "bench/query_options.hpp"

#include <chrono>
#include <cstdint>
#include <limits>
#include <stdexcept>

#include "tools/common/flags.hpp"

namespace metricsd::bench {
namespace {

constexpr uint64_t kMaxAnswerBytes = 256ull << 20;

const char* kIntro =
    R"(Usage: metricsd-query-load --load URL [flags]
       metricsd-query-load --query vm|influx|metricsd --url BASE [flags]

The peers' query benchmark (PEERS.md "Query figures"). --load writes the data set as line
protocol with ms timestamps; --query times two queries and checks their answers:
  range_1m  one series (--node, --field) over the whole data span, 1-minute averages
  latest    the latest value of --field on every node
  latest_category  the latest value of every field on every node (the whole category)

Load URLs: VictoriaMetrics http://127.0.0.1:8428/write?precision=ms,
  InfluxDB http://127.0.0.1:8086/write?db=bench&precision=ms,
  metricsd http://127.0.0.1:8080/api/v1/write?precision=ms
Query bases: http://127.0.0.1:8428, http://127.0.0.1:8086 (db bench), http://127.0.0.1:8080

Flags:
)";

// The flags, bound to `o`; its values now are the defaults --help shows.
void declare(tools::FlagSet& flags, QueryOptions& o) {
  flags.add("load", &o.load_url).arg("URL").help("write the data set to URL (POST, line protocol)");
  flags
      .add("query",
           [&o](const std::string& v) {
             if (v != "vm" && v != "influx" && v != "metricsd")
               throw std::invalid_argument("expected vm, influx or metricsd, got '" + v + "'");
             o.system = v;
           })
      .arg("SYSTEM")
      .help("vm, influx or metricsd; needs --url");
  flags.add("url", &o.url).arg("BASE").help("the system's base URL");
  flags
      .add("end-ms",
           [&o](const std::string& v) {
             const int64_t ms =
                 tools::parse_int64(v, 1e12, false, 9'999'999'999'999.0, INT64_MIN, INT64_MAX);
             if (ms % kMinuteMs != 0)
               throw std::invalid_argument("must be a whole minute, got '" + v + "'");
             o.end_ms = ms;
           })
      .arg("MS")
      .help(
          "end of the data and of the query window, a whole minute (unix ms); give the same "
          "value to every --load and --query")
      .default_text("now, rounded down to a minute");
  flags.add("nodes", &o.nodes).arg("N").help("nodes").range(1, 100'000);
  flags.add("fields", &o.fields).arg("N").help("fields per node").range(1, 1000);
  flags.add("hours", &o.hours).arg("N").help("span of the data and of range_1m").range(1, 24 * 7);
  flags
      .add("interval-s",
           [&o](const std::string& v) {
             const auto s = static_cast<uint32_t>(
                 tools::parse_uint64(v, 1, false, 60, std::numeric_limits<uint32_t>::max()));
             if (60 % s != 0) throw std::invalid_argument("must divide 60, got '" + v + "'");
             o.interval_s = s;
           })
      .arg("N")
      .help("seconds between samples of a series")
      .default_text(std::to_string(o.interval_s));
  flags.add("samples-per-request", &o.samples_per_request)
      .arg("N")
      .help("load: samples per POST, whole lines")
      .range(1, 10'000'000);
  flags.add("connections", &o.connections)
      .arg("N")
      .help("load: keep-alive connections")
      .range(1, 64);
  flags.add("runs", &o.runs).arg("N").help("query: measured runs of each query").range(1, 100'000);
  flags.add("warmup", &o.warmup)
      .arg("N")
      .help("query: unmeasured runs before them")
      .range(0, 100'000);
  flags.add("node", &o.node).arg("NAME").help("range_1m's node");
  flags.add("field", &o.field).arg("NAME").help("the metric (field of node_metrics)");
  flags.add("vm-nocache", &o.vm_nocache)
      .help("VictoriaMetrics: add nocache=1 (bypass its rollup result cache)");
  flags.add("label", &o.label)
      .arg("NAME")
      .help("the system's name in the report")
      .default_text("--query's, vm-nocache with it");
  flags.add("settle", &o.settle_s)
      .arg("SECONDS")
      .help(
          "query: first repeat both queries until their answers match the data set "
          "(VictoriaMetrics: with nocache=1), at most SECONDS")
      .range(0, 600);
  flags.add_list("header", &o.headers, [](const std::string& v) { tools::parse_header_line(v); })
      .arg("'NAME: VALUE'")
      .help("extra request header, repeatable");
  flags.add("timeout", &o.timeout_s).arg("SECONDS").help("per request").range(0.1, 3600);
  flags.add("seed", &o.seed).arg("N").help("seed of the values");
  flags.add("help", &o.help).help("this help");
}

}  // namespace

QueryOptions parse_query_options(int argc, char** argv) {
  QueryOptions o;
  tools::FlagSet flags;
  declare(flags, o);
  flags.parse(argc, argv);
  if (o.help) return o;
  if (o.load_url.empty() == o.system.empty()) throw UsageError("give --load URL or --query SYSTEM");
  if (!o.system.empty() && o.url.empty()) throw UsageError("--query needs --url BASE");
  if (o.samples_per_request < o.fields)
    throw UsageError("--samples-per-request is less than --fields");
  return o;
}

std::string query_options_help() {
  QueryOptions defaults;
  tools::FlagSet flags;
  declare(flags, defaults);
  return kIntro + flags.help();
}

tools::HttpClient client_for(const tools::ServerUrl& url, const QueryOptions& o) {
  tools::HttpClientOptions options;
  options.timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000));
  for (const std::string& line : o.headers)
    options.headers.push_back(tools::parse_header_line(line));
  options.user_agent = "metricsd-query-load";
  options.max_reply_bytes = kMaxAnswerBytes;
  options.resolve_once = true;
  return tools::HttpClient(tools::origin_of(url), std::move(options));
}

}  // namespace metricsd::bench
