// metricsd-ingest-load: writes the peers' ingest workload (PEERS.md) to any HTTP URL — metricsd,
// VictoriaMetrics, InfluxDB — over keep-alive connections and reports samples/s accepted,
// errors, latency percentiles and the client's own CPU. Bodies are built before the clock
// starts; see workload.hpp for how a bounded ring of them covers a whole run.
#include <sys/resource.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "bench/http_sender.hpp"
#include "bench/load_options.hpp"
#include "bench/report_text.hpp"
#include "bench/workload.hpp"
#include "core/clock.hpp"
#include "tools/common/http_client.hpp"

namespace metricsd::bench {
namespace {

constexpr int64_t kWindowMs = 6LL * 3600 * 1000;  // timestamps stay within [now-6h, now]

SenderTarget resolve_target(const LoadOptions& o) {
  tools::ServerUrl url;
  try {
    url = tools::parse_server_url(o.effective_url());
  } catch (const std::invalid_argument& e) {
    throw UsageError(std::string("--url: ") + e.what());
  }
  SenderTarget t;
  t.host = url.host_header;
  t.target = url.target;
  t.content_type =
      o.format == Format::line_protocol ? "text/plain; charset=utf-8" : "application/json";
  t.headers = o.headers;
  t.timeout =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.timeout_s));

  boost::asio::io_context io;
  boost::asio::ip::tcp::resolver resolver(io);
  for (const auto& entry : resolver.resolve(url.host, url.port)) {
    t.endpoints.push_back(entry.endpoint());
  }
  return t;
}

// Rounds are spaced so that warm-up + duration at the ceiling rate span the 6-hour window.
WorkloadSpec make_spec(const LoadOptions& o) {
  WorkloadSpec s;
  s.format = o.format;
  s.nodes = o.nodes;
  s.fields = o.fields;
  s.lines_per_body = o.samples_per_request / o.fields;
  if (s.lines_per_body == 0) throw UsageError("--samples-per-request is less than --fields");
  s.seed = o.seed;
  s.start_ms = wall_ms() - kWindowMs;
  s.step_ms = o.step_ms;
  if (s.step_ms == 0) {
    const double rounds = std::ceil(o.rate_ceiling * (o.warmup_s + o.duration_s) /
                                    (static_cast<double>(o.nodes) * o.fields));
    s.step_ms = std::max<int64_t>(1, static_cast<int64_t>(kWindowMs / std::max(1.0, rounds)));
  }
  s.max_rounds = static_cast<uint64_t>(std::max<int64_t>(1, kWindowMs / s.step_ms));
  return s;
}

// Bodies per connection: --ring rounded up to whole rounds, then shrunk to the memory bound.
RingPlan make_plan(const LoadOptions& o, const WorkloadSpec& spec, size_t body_bytes) {
  const uint32_t unit = ring_unit(spec.nodes, o.connections, spec.lines_per_body);
  uint64_t per_connection = (uint64_t{o.ring} + unit - 1) / unit * unit;
  const uint64_t budget = uint64_t{o.max_payload_mib} << 20;
  const uint64_t fits = budget / (body_bytes * o.connections);
  if (per_connection > fits) per_connection = fits / unit * unit;
  if (per_connection == 0) {
    throw UsageError("--max-payload-mib " + std::to_string(o.max_payload_mib) +
                     " cannot hold one ring: each connection needs a multiple of " +
                     std::to_string(unit) + " bodies of ~" + std::to_string(body_bytes >> 10) +
                     " KiB (choose --nodes dividing connections x lines per request)");
  }
  return RingPlan{o.connections, static_cast<uint32_t>(per_connection), spec.lines_per_body};
}

double cpu_seconds() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
         static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

// Nearest-rank percentile of sorted microseconds, in milliseconds.
double percentile_ms(const std::vector<uint32_t>& sorted_us, double p) {
  if (sorted_us.empty()) return 0;
  const auto rank = static_cast<size_t>(std::ceil(p / 100 * static_cast<double>(sorted_us.size())));
  return sorted_us[std::clamp<size_t>(rank, 1, sorted_us.size()) - 1] / 1000.0;
}

SenderStats merge(std::vector<SenderStats>& all) {
  SenderStats m;
  for (SenderStats& s : all) {
    m.requests_ok += s.requests_ok;
    m.samples_ok += s.samples_ok;
    m.bytes_ok += s.bytes_ok;
    m.latencies_us.insert(m.latencies_us.end(), s.latencies_us.begin(), s.latencies_us.end());
    for (const auto& [kind, n] : s.errors)
      m.errors[kind] += n;
    m.warmup_errors += s.warmup_errors;
    m.reconnects += s.reconnects;
    m.timestamp_wraps += s.timestamp_wraps;
    if (s.first_error_at < m.first_error_at) {
      m.first_error_at = s.first_error_at;
      m.first_error = s.first_error;
    }
  }
  std::sort(m.latencies_us.begin(), m.latencies_us.end());
  return m;
}

void report(const LoadOptions& o, const WorkloadSpec& spec, const RingPlan& plan,
            double payload_mib, const SenderStats& s, double cpu_pct) {
  const double rate = static_cast<double>(s.samples_ok) / o.duration_s;
  const double mib_per_s = static_cast<double>(s.bytes_ok) / o.duration_s / (1 << 20);
  const double p50 = percentile_ms(s.latencies_us, 50), p90 = percentile_ms(s.latencies_us, 90),
               p99 = percentile_ms(s.latencies_us, 99), max = percentile_ms(s.latencies_us, 100);
  const char* format = o.format == Format::line_protocol ? "lp" : "json";

  std::string errors_text, errors_json = "{";
  for (const auto& [kind, n] : s.errors) {
    errors_text += (errors_text.empty() ? "" : ", ") + kind + " x" + std::to_string(n);
    errors_json +=
        (errors_json.size() > 1 ? "," : "") + json_string(kind) + ":" + std::to_string(n);
  }
  errors_json += "}";

  std::cout << format << " -> " << o.effective_url() << ", " << o.connections << " conn, "
            << fixed(o.duration_s, 1) << " s: " << fixed(rate / 1e6, 3) << " M samples/s ("
            << s.requests_ok << " requests, " << s.samples_ok << " samples, " << fixed(mib_per_s, 1)
            << " MiB/s); latency ms p50 " << fixed(p50, 2) << " p90 " << fixed(p90, 2) << " p99 "
            << fixed(p99, 2) << " max " << fixed(max, 2)
            << "; errors: " << (errors_text.empty() ? "none" : errors_text) << "; client CPU "
            << fixed(cpu_pct, 1) << " %\n";
  if (!s.first_error.empty()) std::cout << "first error: " << s.first_error << "\n";
  if (s.timestamp_wraps > 0) {
    std::cout << "warning: " << s.timestamp_wraps
              << " bodies wrapped to now-6h (timestamps repeated); raise --rate-ceiling\n";
  }

  std::cout << "{\"url\":" << json_string(o.effective_url()) << ",\"format\":\"" << format
            << "\",\"connections\":" << o.connections
            << ",\"duration_s\":" << fixed(o.duration_s, 1)
            << ",\"warmup_s\":" << fixed(o.warmup_s, 1) << ",\"nodes\":" << spec.nodes
            << ",\"fields\":" << spec.fields
            << ",\"samples_per_request\":" << spec.samples_per_body()
            << ",\"step_ms\":" << spec.step_ms
            << ",\"bodies_built\":" << uint64_t{plan.bodies_per_connection} * plan.connections
            << ",\"payload_mib\":" << fixed(payload_mib, 1) << ",\"requests\":" << s.requests_ok
            << ",\"samples\":" << s.samples_ok << ",\"samples_per_s\":" << fixed(rate, 0)
            << ",\"mib_per_s\":" << fixed(mib_per_s, 1) << ",\"errors\":" << errors_json
            << ",\"warmup_errors\":" << s.warmup_errors << ",\"reconnects\":" << s.reconnects
            << ",\"timestamp_wraps\":" << s.timestamp_wraps
            << ",\"latency_ms\":{\"p50\":" << fixed(p50, 3) << ",\"p90\":" << fixed(p90, 3)
            << ",\"p99\":" << fixed(p99, 3) << ",\"max\":" << fixed(max, 3)
            << "},\"client_cpu_pct\":" << fixed(cpu_pct, 1)
            << ",\"first_error\":" << json_string(s.first_error) << "}\n";
}

int run(const LoadOptions& o) {
  const SenderTarget target = resolve_target(o);
  const WorkloadSpec spec = make_spec(o);

  const auto build_start = Clock::now();
  const size_t probe_bytes = build_payload(spec, 0).body.size();
  const RingPlan plan = make_plan(o, spec, probe_bytes + probe_bytes / 8);
  std::vector<std::vector<Payload>> rings(o.connections);
  size_t payload_bytes = 0;
  for (uint32_t c = 0; c < o.connections; ++c) {
    rings[c].reserve(plan.bodies_per_connection);
    for (uint32_t k = 0; k < plan.bodies_per_connection; ++k) {
      rings[c].push_back(build_payload(spec, plan.first_line(c, k)));
      payload_bytes += rings[c].back().body.size();
    }
  }
  const double payload_mib = static_cast<double>(payload_bytes) / (1 << 20);
  std::cerr << "built " << uint64_t{plan.bodies_per_connection} * o.connections << " bodies ("
            << plan.bodies_per_connection << " per connection, " << spec.samples_per_body()
            << " samples each, " << fixed(payload_mib, 1) << " MiB) in "
            << fixed(std::chrono::duration<double>(Clock::now() - build_start).count(), 2)
            << " s; rounds " << spec.step_ms << " ms apart from now-6h\n";

  const auto t0 = Clock::now();
  const auto to_duration = [](double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  const RunWindow window{t0 + to_duration(o.warmup_s), t0 + to_duration(o.warmup_s + o.duration_s)};
  std::vector<SenderStats> stats(o.connections);
  std::vector<std::exception_ptr> failures(o.connections);
  std::vector<std::thread> threads;
  for (uint32_t c = 0; c < o.connections; ++c) {
    threads.emplace_back([&, c, ring = std::move(rings[c])]() mutable {
      try {
        run_sender(target, spec, plan, std::move(ring), window, stats[c]);
      } catch (...) {
        failures[c] = std::current_exception();
      }
    });
  }
  std::this_thread::sleep_until(window.measure_from);
  const double cpu_start = cpu_seconds();
  std::this_thread::sleep_until(window.end);
  const double cpu_pct = (cpu_seconds() - cpu_start) / o.duration_s * 100;
  for (std::thread& t : threads)
    t.join();
  for (const std::exception_ptr& f : failures) {
    if (f) std::rethrow_exception(f);
  }

  const SenderStats merged = merge(stats);
  report(o, spec, plan, payload_mib, merged, cpu_pct);
  return merged.requests_ok > 0 ? 0 : 1;
}

}  // namespace
}  // namespace metricsd::bench

int main(int argc, char** argv) {
  using namespace metricsd::bench;
  try {
    const LoadOptions o = parse_load_options(argc, argv);
    if (o.help) {
      std::cout << load_options_help(argv[0]);
      return 0;
    }
    return run(o);
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
