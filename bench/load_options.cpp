// Parses metricsd-ingest-load's flags from the table below (see load_options.hpp).
#include "bench/load_options.hpp"

#include <charconv>
#include <cstdio>
#include <string_view>

namespace metricsd::bench {
namespace {

constexpr uint32_t kMaxConnections = 64;
constexpr double kMaxDurationS = 600;
constexpr double kMaxWarmupS = 60;

template <class T>
T parse_number(std::string_view flag, std::string_view text, T lo, T hi) {
  T v{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    throw UsageError("--" + std::string(flag) + ": not a number: '" + std::string(text) + "'");
  }
  if (v < lo || v > hi) {
    throw UsageError("--" + std::string(flag) + ": " + std::string(text) + " is outside [" +
                     std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  return v;
}

std::string show(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

struct Flag {
  const char* name;
  const char* arg;  // nullptr: takes no argument
  const char* help;
  void (*set)(LoadOptions&, std::string_view name, std::string_view value);
  std::string (*show_default)(const LoadOptions&);
};

const Flag kFlags[] = {
    {"url", "URL",
     "where to POST (plain http). Default: http://127.0.0.1:8080/api/v1/write for lp,\n"
     "        http://127.0.0.1:8080/api/v1/metrics for json. VictoriaMetrics:\n"
     "        http://127.0.0.1:8428/write, InfluxDB: http://127.0.0.1:8086/write?db=bench",
     [](LoadOptions& o, std::string_view, std::string_view v) { o.url = v; },
     [](const LoadOptions&) { return std::string("(per format)"); }},
    {"format", "lp|json",
     "body format: InfluxDB line protocol, or metricsd's POST /api/v1/metrics JSON",
     [](LoadOptions& o, std::string_view n, std::string_view v) {
       if (v == "lp") {
         o.format = Format::line_protocol;
       } else if (v == "json") {
         o.format = Format::json;
       } else {
         throw UsageError("--" + std::string(n) + ": expected lp or json, got '" + std::string(v) +
                          "'");
       }
     },
     [](const LoadOptions& o) {
       return std::string(o.format == Format::line_protocol ? "lp" : "json");
     }},
    {"nodes", "N", "nodes (tag node=node-0000...); series = nodes x fields",
     [](LoadOptions& o, std::string_view n, std::string_view v) {
       o.nodes = parse_number<uint32_t>(n, v, 1, 10'000'000);
     },
     [](const LoadOptions& o) { return std::to_string(o.nodes); }},
    {"fields", "N", "numeric fields per line (20 named ones, then field_21, ...)",
     [](LoadOptions& o, std::string_view n, std::string_view v) {
       o.fields = parse_number<uint32_t>(n, v, 1, 1000);
     },
     [](const LoadOptions& o) { return std::to_string(o.fields); }},
    {"samples-per-request", "N",
     "samples per POST; rounded down to whole lines of --fields samples",
     [](LoadOptions& o, std::string_view n, std::string_view v) {
       o.samples_per_request = parse_number<uint32_t>(n, v, 1, 10'000'000);
     },
     [](const LoadOptions& o) { return std::to_string(o.samples_per_request); }},
    {"connections", "N",
     "keep-alive connections, each on its own thread with one request in flight",
     [](LoadOptions& o, std::string_view n, std::string_view v) {
       o.connections = parse_number<uint32_t>(n, v, 1, kMaxConnections);
     },
     [](const LoadOptions& o) { return std::to_string(o.connections); }},
    {"duration", "SECONDS", "measured time, after the warm-up (at most 600)",
     [](LoadOptions& o, std::string_view n, std::string_view v) {
       o.duration_s = parse_number<double>(n, v, 0.1, kMaxDurationS);
     },
     [](const LoadOptions& o) { return show(o.duration_s); }},
    {"warmup", "SECONDS", "load sent before measuring, not counted (at most 60)",
     [](LoadOptions& o, std::string_view n, std::string_view v) {
       o.warmup_s = parse_number<double>(n, v, 0, kMaxWarmupS);
     },
     [](const LoadOptions& o) { return show(o.warmup_s); }},
    {"header", "'NAME: VALUE'",
     "extra request header, repeatable (e.g. 'Authorization: Bearer X');\n"
     "        a Content-Type given here replaces the format's",
     [](LoadOptions& o, std::string_view n, std::string_view v) {
       const auto colon = v.find(':');
       if (colon == 0 || colon == std::string_view::npos ||
           v.find_first_of("\r\n") != std::string_view::npos) {
         throw UsageError("--" + std::string(n) + ": expected 'Name: value', got '" +
                          std::string(v) + "'");
       }
       o.headers.emplace_back(v);
     },
     [](const LoadOptions&) { return std::string("none"); }},
    {"seed", "N", "seed of the values (same seed, same bodies)",
     [](LoadOptions& o, std::string_view n, std::string_view v) {
       o.seed = parse_number<uint64_t>(n, v, 0, UINT64_MAX);
     },
     [](const LoadOptions& o) { return std::to_string(o.seed); }},
    {"ring", "N",
     "bodies pre-built per connection; reused with rewritten timestamps (rounded up so\n"
     "        the ring holds whole rounds, shrunk to fit --max-payload-mib)",
     [](LoadOptions& o, std::string_view n, std::string_view v) {
       o.ring = parse_number<uint32_t>(n, v, 1, 1'000'000);
     },
     [](const LoadOptions& o) { return std::to_string(o.ring); }},
    {"max-payload-mib", "MIB", "memory bound for all pre-built bodies",
     [](LoadOptions& o, std::string_view n, std::string_view v) {
       o.max_payload_mib = parse_number<uint32_t>(n, v, 1, 16384);
     },
     [](const LoadOptions& o) { return std::to_string(o.max_payload_mib); }},
    {"rate-ceiling", "SAMPLES_PER_S",
     "fastest rate the timestamps are sized for: rounds are spaced so that warm-up +\n"
     "        duration at this rate span [now-6h, now]; faster runs wrap to now-6h",
     [](LoadOptions& o, std::string_view n, std::string_view v) {
       o.rate_ceiling = parse_number<double>(n, v, 1, 1e10);
     },
     [](const LoadOptions& o) { return show(o.rate_ceiling); }},
    {"step-ms", "MS", "milliseconds between rounds; 0 derives it from --rate-ceiling",
     [](LoadOptions& o, std::string_view n, std::string_view v) {
       o.step_ms = parse_number<int64_t>(n, v, 0, 3'600'000);
     },
     [](const LoadOptions& o) { return std::to_string(o.step_ms); }},
    {"timeout", "SECONDS", "per request (connect, send and answer)",
     [](LoadOptions& o, std::string_view n, std::string_view v) {
       o.timeout_s = parse_number<double>(n, v, 0.1, 600);
     },
     [](const LoadOptions& o) { return show(o.timeout_s); }},
    {"help", nullptr, "print this help and exit",
     [](LoadOptions& o, std::string_view, std::string_view) { o.help = true; },
     [](const LoadOptions&) { return std::string(); }},
};

const Flag* find_flag(std::string_view name) {
  for (const Flag& f : kFlags) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

}  // namespace

std::string LoadOptions::effective_url() const {
  if (!url.empty()) return url;
  return format == Format::line_protocol ? "http://127.0.0.1:8080/api/v1/write"
                                         : "http://127.0.0.1:8080/api/v1/metrics";
}

LoadOptions parse_load_options(int argc, char** argv) {
  LoadOptions o;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h") arg = "--help";
    if (!arg.starts_with("--")) throw UsageError("unexpected argument '" + std::string(arg) + "'");
    arg.remove_prefix(2);
    std::string_view value;
    bool has_value = false;
    if (const auto eq = arg.find('='); eq != std::string_view::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    const Flag* f = find_flag(arg);
    if (f == nullptr) throw UsageError("unknown flag --" + std::string(arg));
    if (f->arg != nullptr && !has_value) {
      if (i + 1 >= argc) throw UsageError("--" + std::string(arg) + " needs " + f->arg);
      value = argv[++i];
    } else if (f->arg == nullptr && has_value) {
      throw UsageError("--" + std::string(arg) + " takes no value");
    }
    f->set(o, f->name, value);
  }
  return o;
}

std::string load_options_help(const char* program) {
  const LoadOptions defaults;
  std::string out = std::string("Usage: ") + program +
                    " [flags]\n"
                    "POSTs the peers' ingest workload (PEERS.md: nodes x fields series, one\n"
                    "line-protocol line per node and timestamp, timestamps rising within the last\n"
                    "6 h) to a URL over keep-alive HTTP/1.1 connections, then prints samples/s\n"
                    "accepted (2xx), errors by status, latency percentiles and the client's CPU,\n"
                    "as one human line and one JSON line.\n\nFlags:\n";
  for (const Flag& f : kFlags) {
    out.append("  --").append(f.name);
    if (f.arg != nullptr) out.append(" ").append(f.arg);
    out.append("\n        ").append(f.help);
    const std::string d = f.show_default(defaults);
    if (!d.empty()) out.append(" [default: ").append(d).append("]");
    out.append("\n");
  }
  return out;
}

}  // namespace metricsd::bench
