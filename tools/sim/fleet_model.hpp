// The simulated fleet: N nodes of mixed kinds (half generation, three in ten training, two
// in ten Raspberry Pis), each a NodeModel with its own random stream, plus outages: a node
// now and then stops heartbeating for a while (long enough to go stale and offline) and
// comes back. Time is the model's own (tick × interval), so the same seed gives the same
// values whatever the wall clock or the senders do. The first tick always has every node
// online, so a run registers the whole fleet.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tools/sim/node_models.hpp"

namespace metricsd::tools {

struct FleetConfig {
  size_t nodes = 50;
  uint64_t seed = 1;
  double interval_s = 5;
  std::string prefix = "sim";           // node ids: <prefix>-gen-0001, <prefix>-train-0002, ...
  double outage_chance_per_hour = 0.5;  // per node
  double outage_s_min = 90, outage_s_max = 600;
  CliffConfig cliff;
};

struct NodeTick {
  size_t index = 0;
  const std::string* node_id = nullptr;
  NodeKind kind = NodeKind::kGeneration;
  bool online = true;  // false: silent this tick (no heartbeat, no samples)
  NodeReport report;   // empty when offline
};

class FleetModel {
 public:
  explicit FleetModel(FleetConfig config);

  // Advances every node by one interval; `ts_ms` stamps the labelled samples.
  std::vector<NodeTick> step(int64_t ts_ms);

  // A command from the server for node `index`, applied from the next step: pause, resume,
  // stop (silent for the rest of the run), restart (silent for 10-30 s, then back, resumed).
  // False for a type the simulator does not know.
  bool apply_command(size_t index, const std::string& type);

  const std::vector<std::string>& node_ids() const { return ids_; }
  NodeKind kind_of(size_t i) const { return models_[i].kind(); }
  const FleetConfig& config() const { return config_; }

 private:
  FleetConfig config_;
  std::vector<std::string> ids_;
  std::vector<NodeModel> models_;
  std::vector<Prng> outage_rng_;
  std::vector<double> outage_left_s_;
  std::vector<bool> stopped_;
  uint64_t ticks_ = 0;
};

}  // namespace metricsd::tools
