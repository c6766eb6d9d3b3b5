// The simulated fleet (see fleet_model.hpp).
#include "tools/sim/fleet_model.hpp"

#include <cmath>
#include <cstdio>

namespace metricsd::tools {

FleetModel::FleetModel(FleetConfig config) : config_(std::move(config)) {
  for (size_t i = 0; i < config_.nodes; ++i) {
    const size_t slot = i % 10;
    const NodeKind kind = slot < 5   ? NodeKind::kGeneration
                          : slot < 8 ? NodeKind::kTraining
                                     : NodeKind::kPi;
    const char* short_name = kind == NodeKind::kGeneration ? "gen"
                             : kind == NodeKind::kTraining ? "train"
                                                           : "pi";
    char id[160];
    std::snprintf(id, sizeof id, "%s-%s-%04zu", config_.prefix.c_str(), short_name, i + 1);
    ids_.push_back(id);
    models_.emplace_back(kind, stream_seed(config_.seed, 2 * i), config_.cliff);
    outage_rng_.emplace_back(stream_seed(config_.seed, 2 * i + 1));
    outage_left_s_.push_back(0);
    stopped_.push_back(false);
  }
}

bool FleetModel::apply_command(size_t index, const std::string& type) {
  if (index >= models_.size()) return false;
  if (type == "pause" || type == "resume") {
    models_[index].set_paused(type == "pause");
  } else if (type == "stop") {
    stopped_[index] = true;
  } else if (type == "restart") {
    outage_left_s_[index] = outage_rng_[index].uniform(10, 30);
    models_[index].set_paused(false);
  } else {
    return false;
  }
  return true;
}

std::vector<NodeTick> FleetModel::step(int64_t ts_ms) {
  const double dt = config_.interval_s;
  const double p_outage = 1.0 - std::exp(-config_.outage_chance_per_hour * dt / 3600.0);
  std::vector<NodeTick> out;
  out.reserve(models_.size());
  for (size_t i = 0; i < models_.size(); ++i) {
    NodeTick t;
    t.index = i;
    t.node_id = &ids_[i];
    t.kind = models_[i].kind();
    Prng& rng = outage_rng_[i];
    bool silent = false;
    if (outage_left_s_[i] > 0) {
      outage_left_s_[i] -= dt;
      silent = true;
    } else if (ticks_ > 0 && rng.chance(p_outage)) {
      outage_left_s_[i] = rng.uniform(config_.outage_s_min, config_.outage_s_max) - dt;
      silent = true;
    }
    // The node's own model keeps running while it is silent (a training run goes on even
    // when its heartbeats do not arrive); only the report is withheld.
    NodeReport r = models_[i].step(dt, ts_ms);
    t.online = !silent && !stopped_[i];
    if (t.online) t.report = std::move(r);
    out.push_back(std::move(t));
  }
  ++ticks_;
  return out;
}

}  // namespace metricsd::tools
