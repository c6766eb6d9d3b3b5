// metricsd-query-load: the peers' query benchmark (PEERS.md, "Query figures"). Two modes:
//
//   --load URL           writes the data set (24 h at 10 s for 100 nodes x 20 metrics, one
//                        line-protocol line per node and timestamp, ms precision) to URL
//   --query SYSTEM --url BASE
//                        times the two queries against vm, influx or metricsd and checks the
//                        answers against the data set, computed here from the same generator
//
// The data set is fixed by --end-ms (a whole minute): samples lie at end - 24 h + 5 s + k * 10 s,
// so every minute of [end - 24 h, end) holds exactly 6 samples and no sample sits on a minute
// boundary (where "the minute ending at t" and "the minute starting at t" would differ).
// Values come from the ingest tool's generator (workload.hpp), so every system gets the same
// bytes, and the expected answers can be computed here.
#include <algorithm>
#include <atomic>
#include <boost/url/url.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/load_options.hpp"
#include "bench/workload.hpp"
#include "core/clock.hpp"
#include "tools/common/http_client.hpp"

namespace metricsd::bench {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr int64_t kMinuteMs = 60'000;
constexpr uint64_t kMaxAnswerBytes = 256ull << 20;
constexpr int kMaxAttempts = 30;
constexpr int64_t kVmLatencyOffsetMs = 31'000;  // VictoriaMetrics' -search.latencyOffset + 1 s  //
                                                // per load request, on 5xx, 429 or I/O failure

struct Options {
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
void declare(tools::FlagSet& flags, Options& o) {
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

Options parse_options(int argc, char** argv) {
  Options o;
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

std::string help() {
  Options defaults;
  tools::FlagSet flags;
  declare(flags, defaults);
  return kIntro + flags.help();
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// The data set: rounds of one line per node, `interval` apart, the first half an interval
// after from_ms; the query window is [from_ms, to_ms).
struct DataSet {
  WorkloadSpec spec;
  uint64_t rounds = 0;
  int64_t from_ms = 0;
  int64_t to_ms = 0;
};

DataSet make_data_set(const Options& o) {
  DataSet d;
  d.to_ms = o.end_ms != 0 ? o.end_ms : wall_ms() / kMinuteMs * kMinuteMs;
  const int64_t span_ms = int64_t{o.hours} * 3'600'000;
  const int64_t step_ms = int64_t{o.interval_s} * 1000;
  d.from_ms = d.to_ms - span_ms;
  d.rounds = static_cast<uint64_t>(span_ms / step_ms);
  d.spec.format = Format::line_protocol;
  d.spec.nodes = o.nodes;
  d.spec.fields = o.fields;
  d.spec.lines_per_body = o.samples_per_request / o.fields;
  d.spec.seed = o.seed;
  d.spec.start_ms = d.from_ms + step_ms / 2;
  d.spec.step_ms = step_ms;
  d.spec.max_rounds = d.rounds;
  return d;
}

// workload.cpp writes nanosecond stamps (ms followed by six zeros, 19 digits); keep the ms.
std::string with_ms_stamps(const Payload& p) {
  constexpr size_t kNsWidth = 19, kDropped = 6;
  std::string out;
  out.reserve(p.body.size());
  size_t pos = 0;
  for (const uint32_t off : p.ts_offsets) {
    if (p.body.compare(off + kNsWidth - kDropped, kDropped, "000000") != 0)
      throw std::logic_error("timestamp is not a whole millisecond");
    out.append(p.body, pos, off + kNsWidth - kDropped - pos);
    pos = off + kNsWidth;
  }
  out.append(p.body, pos, std::string::npos);
  return out;
}

// ---------------------------------------------------------------------------------------
// --load

// One keep-alive connection to `url`'s server, requests naming whole targets; answers up to
// 256 MiB (a whole category's latest values), --header on every request. The host is
// resolved here, once: a name that does not resolve fails the run at once.
tools::HttpClient connect_to(const tools::ServerUrl& url, const Options& o) {
  tools::HttpClientOptions options;
  options.timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout_s * 1000));
  for (const std::string& line : o.headers)
    options.headers.push_back(tools::parse_header_line(line));
  options.user_agent = "metricsd-query-load";
  options.max_reply_bytes = kMaxAnswerBytes;
  options.resolve_once = true;
  return tools::HttpClient(tools::origin_of(url), std::move(options));
}

int run_load(const Options& o, const DataSet& d) {
  const tools::ServerUrl url = tools::parse_server_url(o.load_url);
  const uint64_t total_lines = uint64_t{o.nodes} * d.rounds;
  const uint64_t per_body = d.spec.lines_per_body;
  const size_t bodies = static_cast<size_t>((total_lines + per_body - 1) / per_body);

  const auto build_start = Clock::now();
  std::vector<std::string> body(bodies);
  std::vector<uint32_t> body_samples(bodies);
  {
    std::vector<std::thread> builders;
    const unsigned n = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
    for (unsigned t = 0; t < n; ++t) {
      builders.emplace_back([&, t] {
        for (size_t i = t; i < bodies; i += n) {
          WorkloadSpec s = d.spec;
          const uint64_t first = i * per_body;
          s.lines_per_body = static_cast<uint32_t>(std::min(per_body, total_lines - first));
          body[i] = with_ms_stamps(build_payload(s, first));
          body_samples[i] = s.lines_per_body * s.fields;
        }
      });
    }
    for (auto& t : builders)
      t.join();
  }
  size_t bytes = 0;
  for (const auto& b : body)
    bytes += b.size();
  std::cerr << "built " << bodies << " bodies (" << fixed(static_cast<double>(bytes) / (1 << 20), 1)
            << " MiB, " << total_lines * o.fields << " samples) in "
            << fixed(std::chrono::duration<double>(Clock::now() - build_start).count(), 2)
            << " s; data [" << d.spec.start_ms << ", "
            << d.spec.start_ms + static_cast<int64_t>(d.rounds - 1) * d.spec.step_ms << "] ms\n";

  std::atomic<size_t> next{0};
  std::atomic<bool> abort{false};
  std::atomic<uint64_t> samples_ok{0}, requests_ok{0}, retries{0};
  std::mutex error_mu;
  std::string first_error;
  const auto note_error = [&](std::string text) {
    std::lock_guard lock(error_mu);
    if (first_error.empty()) first_error = text.substr(0, 500);
  };

  const auto started = Clock::now();
  std::vector<std::thread> senders;
  for (uint32_t c = 0; c < o.connections; ++c) {
    senders.emplace_back([&] {
      try {
        tools::HttpClient http = connect_to(url, o);
        for (size_t i = next++; i < bodies && !abort; i = next++) {
          for (int attempt = 1;; ++attempt) {
            const tools::HttpReply a = http.post(url.target, body[i], "text/plain; charset=utf-8");
            if (a.status >= 200 && a.status < 300) {
              samples_ok += body_samples[i];
              ++requests_ok;
              break;
            }
            const std::string what =
                a.status == 0 ? a.error : "HTTP " + std::to_string(a.status) + ": " + a.body;
            const bool retriable = a.status == 0 || a.status == 429 || a.status >= 500;
            if (!retriable || attempt >= kMaxAttempts) {
              note_error(what);
              abort = true;
              break;
            }
            ++retries;
            int pause_ms = 200;
            if (int s = 0; !a.retry_after.empty() &&
                           std::from_chars(a.retry_after.data(),
                                           a.retry_after.data() + a.retry_after.size(), s)
                                   .ec == std::errc{})
              pause_ms = std::clamp(s * 1000, 100, 2000);
            std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
          }
        }
      } catch (const std::exception& e) {
        note_error(e.what());
        abort = true;
      }
    });
  }
  for (auto& t : senders)
    t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  const double rate = static_cast<double>(samples_ok) / seconds;
  const bool complete = requests_ok == bodies;

  std::cout << "load -> " << o.load_url << ": " << samples_ok << " samples in " << requests_ok
            << "/" << bodies << " requests, " << fixed(seconds, 1) << " s (" << fixed(rate / 1e6, 2)
            << " M samples/s, " << o.connections << " conn), " << retries << " retries"
            << (complete ? "" : "; INCOMPLETE") << "\n";
  if (!first_error.empty()) std::cout << "first error: " << first_error << "\n";
  std::cout << json{{"mode", "load"},
                    {"url", o.load_url},
                    {"samples", samples_ok.load()},
                    {"requests", requests_ok.load()},
                    {"bodies", bodies},
                    {"seconds", std::round(seconds * 1000) / 1000},
                    {"samples_per_s", std::round(rate)},
                    {"retries", retries.load()},
                    {"complete", complete},
                    {"end_ms", d.to_ms},
                    {"first_error", first_error}}
                   .dump()
            << "\n";
  return complete ? 0 : 1;
}

// ---------------------------------------------------------------------------------------
// --query

// What an answer holds, reduced to figures that can be compared across systems.
struct Summary {
  bool ok = false;
  std::string error;
  size_t series = 0;
  size_t points = 0;  // non-null values over all series
  size_t nodes = 0;   // distinct nodes
  double checksum = 0;
};

double number_of(const json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) return std::stod(v.get<std::string>());
  throw std::runtime_error("not a number: " + v.dump());
}

// Range answers: one or more series of points [t, v]; latest answers: one value per series.
Summary summarize(const std::string& system, bool range, const tools::HttpReply& a) {
  Summary s;
  if (a.status != 200) {
    s.error = a.status == 0 ? a.error : "HTTP " + std::to_string(a.status) + ": " + a.body;
    if (s.error.size() > 300) s.error.resize(300);
    return s;
  }
  try {
    const json j = json::parse(a.body);
    std::set<std::string> nodes;
    const auto add_point = [&](const json& v) {
      if (v.is_null()) return;
      s.checksum += number_of(v);
      ++s.points;
    };
    if (system == "vm") {
      if (j.value("status", "") != "success") throw std::runtime_error(a.body.substr(0, 300));
      for (const json& r : j.at("data").at("result")) {
        ++s.series;
        if (r.at("metric").contains("node")) nodes.insert(r["metric"]["node"].get<std::string>());
        if (range) {
          for (const json& p : r.at("values"))
            add_point(p.at(1));
        } else {
          add_point(r.at("value").at(1));
        }
      }
    } else if (system == "influx") {
      const json& result = j.at("results").at(0);
      if (result.contains("error")) throw std::runtime_error(result["error"].dump());
      for (const json& r : result.value("series", json::array())) {
        ++s.series;
        if (r.contains("tags") && r["tags"].contains("node"))
          nodes.insert(r["tags"]["node"].get<std::string>());
        // Column 0 is the time; last(*) has one column per field.
        for (const json& row : r.at("values"))
          for (size_t c = 1; c < row.size(); ++c)
            add_point(row.at(c));
      }
    } else if (range) {  // metricsd /api/v1/query
      for (const json& r : j.at("series")) {
        ++s.series;
        nodes.insert(r.at("node").get<std::string>());
        for (const json& p : r.at("points"))
          add_point(p.at(1));
      }
    } else {  // metricsd /api/v1/latest: an array of {metric, node, labels, ts, value}
      for (const json& r : j) {
        ++s.series;
        nodes.insert(r.at("node").get<std::string>());
        add_point(r.at("value"));
      }
    }
    s.nodes = nodes.size();
    s.ok = true;
  } catch (const std::exception& e) {
    s.error = std::string("bad answer: ") + e.what();
  }
  return s;
}

// The field's value in a line-protocol line.
double field_value(const std::string& line, const std::string& field) {
  for (const char sep : {' ', ','}) {
    const std::string key = sep + field + "=";
    if (auto at = line.find(key); at != std::string::npos) {
      const char* p = line.data() + at + key.size();
      double v = 0;
      auto [end, ec] = std::from_chars(p, line.data() + line.size(), v);
      if (ec == std::errc{}) return v;
    }
  }
  throw UsageError("--field: no field '" + field + "' in the data (" + line.substr(0, 80) + "...)");
}

// What each query must answer, from the generator itself.
struct Expected {
  size_t range_points = 0;
  double range_checksum = 0;  // sum of the 1-minute averages
  size_t latest_nodes = 0;
  double latest_checksum = 0;    // sum of every node's latest value
  size_t category_points = 0;    // every field of every node
  double category_checksum = 0;  // sum of their latest values
};

// Every field value of a line-protocol line, added up; *count gets how many.
double all_fields(const std::string& line, size_t* count) {
  size_t start = line.find(' ');
  size_t end = line.find(' ', start + 1);
  if (start == std::string::npos) return 0;
  std::string_view fields(line.data() + start + 1,
                          (end == std::string::npos ? line.size() : end) - start - 1);
  double sum = 0;
  while (!fields.empty()) {
    size_t comma = fields.find(',');
    std::string_view kv = fields.substr(0, comma);
    if (auto eq = kv.find('='); eq != std::string_view::npos) {
      double v = 0;
      std::string_view num = kv.substr(eq + 1);
      if (!num.empty() && num.back() == 'i') num.remove_suffix(1);
      if (std::from_chars(num.data(), num.data() + num.size(), v).ec == std::errc{}) {
        sum += v;
        ++*count;
      }
    }
    if (comma == std::string_view::npos) break;
    fields.remove_prefix(comma + 1);
  }
  return sum;
}

Expected expect(const Options& o, const DataSet& d) {
  WorkloadSpec one = d.spec;
  one.lines_per_body = 1;
  const auto line_of = [&](uint32_t node, uint64_t round) {
    return build_payload(one, round * o.nodes + node).body;
  };
  uint32_t node = o.nodes;
  for (uint32_t n = 0; n < o.nodes && node == o.nodes; ++n) {
    if (line_of(n, 0).find(",node=" + o.node + ",") != std::string::npos) node = n;
  }
  if (node == o.nodes)
    throw UsageError("--node: '" + o.node + "' is not among the " + std::to_string(o.nodes) +
                     " nodes (node-0000 ...)");
  Expected e;
  std::map<int64_t, std::pair<double, int>> minutes;
  for (uint64_t r = 0; r < d.rounds; ++r) {
    const int64_t ts = d.spec.start_ms + static_cast<int64_t>(r) * d.spec.step_ms;
    auto& [sum, n] = minutes[(ts - d.from_ms) / kMinuteMs];
    sum += field_value(line_of(node, r), o.field);
    ++n;
  }
  for (const auto& [minute, acc] : minutes)
    e.range_checksum += acc.first / acc.second;
  e.range_points = minutes.size();
  for (uint32_t n = 0; n < o.nodes; ++n) {
    e.latest_checksum += field_value(line_of(n, d.rounds - 1), o.field);
    e.category_checksum += all_fields(line_of(n, d.rounds - 1), &e.category_points);
  }
  e.latest_nodes = o.nodes;
  return e;
}

std::string target(const std::string& prefix, const std::string& path,
                   std::initializer_list<std::pair<std::string, std::string>> params) {
  boost::urls::url u;
  u.set_path(prefix + path);
  for (const auto& [k, v] : params)
    u.params().append({k, v});
  return std::string(u.buffer());
}

struct QueryDef {
  std::string name;  // range_1m, latest, latest_category
  bool range;
  std::string target;
  bool category = false;  // every field of every node, not one field
};

std::vector<QueryDef> queries_for(const Options& o, const DataSet& d, const std::string& prefix) {
  const std::string from_s = std::to_string(d.from_ms / 1000),
                    to_s = std::to_string(d.to_ms / 1000);
  if (o.system == "vm") {
    const std::string name = "node_metrics_" + o.field;
    // VictoriaMetrics' line-protocol import names a series <measurement>_<field>. A bare
    // selector in a range query gives the last sample before each step, not an average;
    // avg_over_time(x[1m]) at t averages (t - 1m, t], which with no sample on a minute
    // boundary is exactly metricsd's and InfluxDB's bucket [t - 1m, t).
    QueryDef range{"range_1m", true,
                   target(prefix, "/api/v1/query_range",
                          {{"query", "avg_over_time(" + name + "{node=\"" + o.node + "\"}[1m])"},
                           {"start", from_s},
                           {"end", to_s},
                           {"step", "60"}})};
    QueryDef latest{"latest", false, target(prefix, "/api/v1/query", {{"query", name}})};
    QueryDef category{
        "latest_category", false,
        target(prefix, "/api/v1/query", {{"query", "{__name__=~\"node_metrics_.*\"}"}}), true};
    if (o.vm_nocache) {
      range.target += "&nocache=1";
      latest.target += "&nocache=1";
      category.target += "&nocache=1";
    }
    return {range, latest, category};
  }
  if (o.system == "influx") {
    const std::string range_q = "SELECT mean(\"" + o.field + "\") FROM node_metrics WHERE node='" +
                                o.node + "' AND time >= " + std::to_string(d.from_ms) +
                                "ms AND time < " + std::to_string(d.to_ms) + "ms GROUP BY time(1m)";
    const std::string latest_q = "SELECT last(\"" + o.field + "\") FROM node_metrics GROUP BY node";
    const std::string category_q = "SELECT last(*) FROM node_metrics GROUP BY node";
    return {
        {"range_1m", true,
         target(prefix, "/query", {{"db", "bench"}, {"epoch", "ms"}, {"q", range_q}})},
        {"latest", false,
         target(prefix, "/query", {{"db", "bench"}, {"epoch", "ms"}, {"q", latest_q}})},
        {"latest_category", false,
         target(prefix, "/query", {{"db", "bench"}, {"epoch", "ms"}, {"q", category_q}}), true}};
  }
  const std::string metric = "node_metrics." + o.field;
  return {{"range_1m", true,
           target(prefix, "/api/v1/query",
                  {{"metric", metric},
                   {"node", o.node},
                   {"from", from_s},
                   {"to", to_s},
                   {"step", "1m"},
                   {"agg", "avg"}})},
          {"latest", false, target(prefix, "/api/v1/latest", {{"metric", metric}})},
          {"latest_category", false,
           target(prefix, "/api/v1/latest", {{"category", "node_metrics"}}), true}};
}

// Nearest-rank percentile of sorted milliseconds.
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<size_t>(std::ceil(p / 100 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

bool close_to(double a, double b) {
  return std::fabs(a - b) <= 1e-6 * std::max(1.0, std::fabs(b));
}

bool matches(const QueryDef& q, const Summary& s, const Expected& want) {
  if (!s.ok) return false;
  if (q.range)
    return s.series == 1 && (s.points == want.range_points || s.points == want.range_points + 1) &&
           close_to(s.checksum, want.range_checksum);
  if (q.category)
    return s.nodes == want.latest_nodes && s.points == want.category_points &&
           close_to(s.checksum, want.category_checksum);
  return s.nodes == want.latest_nodes && s.points == want.latest_nodes &&
         close_to(s.checksum, want.latest_checksum);
}

// Repeats every query until all answers match the data set (the system has made all of it
// visible), at most --settle seconds. VictoriaMetrics is asked with nocache=1, so that no
// incomplete answer lands in its rollup result cache.
void settle(const Options& o, const DataSet& d, tools::HttpClient& http,
            const std::vector<QueryDef>& queries, const Expected& want) {
  const auto started = Clock::now();
  // VictoriaMetrics evaluates a query without nocache=1 that reaches into the last
  // -search.latencyOffset (30 s by default) at now - 30 s, or repeats the point before: its
  // answers hold the data set only from to + 30 s on.
  if (const int64_t wait_ms = d.to_ms + kVmLatencyOffsetMs - wall_ms();
      o.system == "vm" && wait_ms > 0) {
    std::cout << "vm: waiting " << fixed(static_cast<double>(wait_ms) / 1000, 1)
              << " s until the data's end is older than -search.latencyOffset (30 s)\n";
    std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
  }
  const auto elapsed = [&] {
    return std::chrono::duration<double>(Clock::now() - started).count();
  };
  for (int probes = 1;; ++probes) {
    bool all = true;
    std::string problem;
    for (const QueryDef& q : queries) {
      std::string t = q.target;
      if (o.system == "vm" && t.find("nocache=1") == std::string::npos) t += "&nocache=1";
      const Summary s = summarize(o.system, q.range, http.get(t));
      if (!matches(q, s, want)) {
        all = false;
        if (problem.empty())
          problem = q.name + ": " +
                    (s.ok ? std::to_string(q.range || q.category ? s.points : s.nodes) +
                                (q.range || q.category ? " points" : " nodes") + ", checksum " +
                                fixed(s.checksum, 3)
                          : s.error);
      }
    }
    if (all) {
      std::cout << o.system << ": answers complete after " << fixed(elapsed(), 1) << " s ("
                << probes << (probes == 1 ? " probe" : " probes") << ")\n";
      return;
    }
    if (elapsed() >= o.settle_s) {
      std::cout << o.system << ": answers still incomplete after " << fixed(elapsed(), 1) << " s ("
                << problem << "); measuring anyway\n";
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

// VictoriaMetrics: the metric names its import made, to confirm <measurement>_<field>.
void show_vm_names(tools::HttpClient& http, const std::string& prefix, const Options& o) {
  const tools::HttpReply a = http.get(prefix + "/api/v1/label/__name__/values");
  size_t ours = 0;
  bool found = false;
  std::string problem;
  try {
    const json j = json::parse(a.body);
    for (const json& n : j.at("data")) {
      const std::string name = n.get<std::string>();
      ours += name.starts_with("node_metrics_") ? 1 : 0;
      found = found || name == "node_metrics_" + o.field;
    }
  } catch (const std::exception& e) {
    problem = " (" + (a.status == 0 ? a.error : "HTTP " + std::to_string(a.status)) + ", " +
              e.what() + ")";
  }
  std::cout << "vm: /api/v1/label/__name__/values has " << ours << " node_metrics_* names; "
            << "node_metrics_" << o.field << (found ? " present" : " MISSING") << problem << "\n";
}

int run_queries(const Options& o, const DataSet& d) {
  const tools::ServerUrl base = tools::parse_server_url(o.url);
  const std::string& prefix = base.base_path;
  const Expected want = expect(o, d);
  tools::HttpClient http = connect_to(base, o);
  const std::string label =
      !o.label.empty() ? o.label : o.system + (o.system == "vm" && o.vm_nocache ? "-nocache" : "");
  if (o.system == "vm") show_vm_names(http, prefix, o);

  const std::vector<QueryDef> queries = queries_for(o, d, prefix);
  if (o.settle_s > 0) settle(o, d, http, queries, want);

  bool all_ok = true;
  for (const QueryDef& q : queries) {
    std::vector<double> ms;
    size_t failed = 0, wrong = 0;
    Summary last;
    std::string first_problem;
    for (uint32_t i = 0; i < o.warmup + o.runs; ++i) {
      const auto t0 = Clock::now();
      const tools::HttpReply a = http.get(q.target);
      const double elapsed = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      const Summary s = summarize(o.system, q.range, a);
      const bool right = matches(q, s, want);
      if (i < o.warmup) continue;
      if (!s.ok) {
        ++failed;
        if (first_problem.empty()) first_problem = s.error;
        continue;
      }
      ms.push_back(elapsed);
      last = s;
      if (!right) {
        ++wrong;
        if (first_problem.empty()) first_problem = "answer differs from the data set";
      }
    }
    std::sort(ms.begin(), ms.end());
    const double p50 = percentile(ms, 50), p99 = percentile(ms, 99);
    const bool ok = failed == 0 && wrong == 0;
    all_ok = all_ok && ok;
    const size_t want_points = q.range      ? want.range_points
                               : q.category ? want.category_points
                                            : want.latest_nodes;
    const double want_sum = q.range      ? want.range_checksum
                            : q.category ? want.category_checksum
                                         : want.latest_checksum;
    std::cout << label << " " << q.name << ": p50 " << fixed(p50, 2) << " ms, p99 " << fixed(p99, 2)
              << " ms (min " << fixed(ms.empty() ? 0 : ms.front(), 2) << ", " << ms.size()
              << " runs after " << o.warmup << " warm-up, " << failed << " failed); " << last.series
              << " series, " << last.points << " points, " << last.nodes << " nodes, checksum "
              << fixed(last.checksum, 3) << " (expected " << want_points
              << (q.range || q.category ? " points" : " nodes") << ", " << fixed(want_sum, 3)
              << ") " << (ok ? "OK" : "WRONG") << "\n";
    if (!first_problem.empty()) std::cout << "  first problem: " << first_problem << "\n";
    std::cout << json{{"mode", "query"},
                      {"system", label},
                      {"query", q.name},
                      {"target", q.target},
                      {"runs", ms.size()},
                      {"failed", failed},
                      {"wrong", wrong},
                      {"p50_ms", std::round(p50 * 1000) / 1000},
                      {"p99_ms", std::round(p99 * 1000) / 1000},
                      {"min_ms", std::round((ms.empty() ? 0 : ms.front()) * 1000) / 1000},
                      {"series", last.series},
                      {"points", last.points},
                      {"nodes", last.nodes},
                      {"checksum", last.checksum},
                      {"expected_points", want_points},
                      {"expected_checksum", want_sum},
                      {"ok", ok},
                      {"from_ms", d.from_ms},
                      {"to_ms", d.to_ms},
                      {"first_problem", first_problem}}
                     .dump()
              << "\n";
  }
  if (http.connects() > 1)
    std::cout << label << ": reconnected " << http.connects() - 1 << " times\n";
  return all_ok ? 0 : 1;
}

}  // namespace
}  // namespace metricsd::bench

int main(int argc, char** argv) {
  using namespace metricsd::bench;
  try {
    const Options o = parse_options(argc, argv);
    if (o.help) {
      std::cout << help();
      return 0;
    }
    const DataSet d = make_data_set(o);
    return o.load_url.empty() ? run_queries(o, d) : run_load(o, d);
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
