// What a simulator run sent, per kind of traffic (generation, training, pi heartbeats and
// samples): requests, delivered samples, failures by status. Each sender thread fills its
// own SimReport; they are merged at the end.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace metricsd::tools {

struct TrafficCounts {
  uint64_t requests = 0, ok = 0, failed = 0, samples = 0, samples_failed = 0, skipped = 0;
  uint64_t commands = 0;                   // received in heartbeat answers
  std::map<std::string, uint64_t> errors;  // "503", "connect: Connection refused", ...
  void merge(const TrafficCounts& o);
};

struct SimReport {
  std::map<std::string, TrafficCounts> by_kind;  // "generation", "training", "pi"
  double elapsed_s = 0;
  uint64_t ticks = 0, nodes = 0;

  void merge(const SimReport& o);
  TrafficCounts total() const;
  std::string text() const;
  nlohmann::json to_json() const;
};

}  // namespace metricsd::tools
