// Query timing (see query_timing.hpp).
#include "bench/query_timing.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench/query_systems.hpp"
#include "bench/report_text.hpp"
#include "core/clock.hpp"

namespace metricsd::bench {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr int64_t kVmLatencyOffsetMs = 31'000;  // VictoriaMetrics' -search.latencyOffset + 1 s

// Nearest-rank percentile of sorted milliseconds.
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto rank = static_cast<size_t>(std::ceil(p / 100 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

// Repeats every query until all answers match the data set (the system has made all of it
// visible), at most --settle seconds. VictoriaMetrics is asked with nocache=1, so that no
// incomplete answer lands in its rollup result cache.
void settle(const QueryOptions& o, const DataSet& d, tools::HttpClient& http,
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
void show_vm_names(tools::HttpClient& http, const std::string& prefix, const QueryOptions& o) {
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

}  // namespace

int time_queries(const QueryOptions& o, const DataSet& d) {
  const tools::ServerUrl base = tools::parse_server_url(o.url);
  const std::string& prefix = base.base_path;
  const Expected want = expect(o, d);
  tools::HttpClient http = client_for(base, o);
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

}  // namespace metricsd::bench
