// The simulator's report (see sim_report.hpp).
#include "tools/sim/sim_report.hpp"

#include <algorithm>
#include <cstdio>

namespace metricsd::tools {

void TrafficCounts::merge(const TrafficCounts& o) {
  requests += o.requests;
  ok += o.ok;
  failed += o.failed;
  samples += o.samples;
  samples_failed += o.samples_failed;
  skipped += o.skipped;
  commands += o.commands;
  for (const auto& [k, v] : o.errors)
    errors[k] += v;
}

void SimReport::merge(const SimReport& o) {
  for (const auto& [k, v] : o.by_kind)
    by_kind[k].merge(v);
  elapsed_s = std::max(elapsed_s, o.elapsed_s);
  ticks = std::max(ticks, o.ticks);
  nodes = std::max(nodes, o.nodes);
}

TrafficCounts SimReport::total() const {
  TrafficCounts t;
  for (const auto& [k, v] : by_kind)
    t.merge(v);
  return t;
}

std::string SimReport::text() const {
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "metricsd-sim: %llu nodes, %llu ticks in %.1f s\n",
                static_cast<unsigned long long>(nodes), static_cast<unsigned long long>(ticks),
                elapsed_s);
  out += line;
  std::snprintf(line, sizeof line, "  %-12s %10s %10s %10s %12s %12s %10s\n", "kind", "requests",
                "ok", "failed", "samples", "samples_lost", "skipped");
  out += line;
  auto row = [&](const std::string& name, const TrafficCounts& c) {
    std::snprintf(line, sizeof line, "  %-12s %10llu %10llu %10llu %12llu %12llu %10llu\n",
                  name.c_str(), static_cast<unsigned long long>(c.requests),
                  static_cast<unsigned long long>(c.ok), static_cast<unsigned long long>(c.failed),
                  static_cast<unsigned long long>(c.samples),
                  static_cast<unsigned long long>(c.samples_failed),
                  static_cast<unsigned long long>(c.skipped));
    out += line;
  };
  for (const auto& [k, v] : by_kind)
    row(k, v);
  const TrafficCounts t = total();
  row("total", t);
  std::snprintf(line, sizeof line, "  rate: %.1f requests/s, %.1f samples/s\n",
                elapsed_s > 0 ? t.requests / elapsed_s : 0.0,
                elapsed_s > 0 ? t.samples / elapsed_s : 0.0);
  out += line;
  if (t.commands > 0) out += "  commands received: " + std::to_string(t.commands) + "\n";
  for (const auto& [err, n] : t.errors)
    out += "  error " + err + ": " + std::to_string(n) + "\n";
  return out;
}

nlohmann::json SimReport::to_json() const {
  auto counts = [](const TrafficCounts& c) {
    return nlohmann::json{{"requests", c.requests},
                          {"ok", c.ok},
                          {"failed", c.failed},
                          {"samples", c.samples},
                          {"samples_lost", c.samples_failed},
                          {"skipped", c.skipped},
                          {"commands", c.commands},
                          {"errors", c.errors}};
  };
  nlohmann::json kinds = nlohmann::json::object();
  for (const auto& [k, v] : by_kind)
    kinds[k] = counts(v);
  return {{"nodes", nodes},
          {"ticks", ticks},
          {"elapsed_s", elapsed_s},
          {"by_kind", kinds},
          {"total", counts(total())}};
}

}  // namespace metricsd::tools
