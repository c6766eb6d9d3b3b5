// How each kind of simulated node behaves from one interval to the next:
// - generation (LLM inference workstations): tokens/s follows demand, the activity mode's
//   throttle, GPU temperature (derating, thermal throttling) and occasional performance
//   cliffs (-50 % within minutes, recovering later); conversations/h and a 1-10 quality
//   score follow it.
// - training: loss falling with noise as steps advance, a warm-up + cosine learning-rate
//   schedule (a new run starts when one ends), mixture-of-experts activations as labelled
//   series that drift and always sum to 1.
// - pi (Raspberry Pi document processing): system load, SoC temperature, documents
//   processed.
// Every node also has an activity mode (idle/work/gaming) with a throttle factor, reported in
// its heartbeat state. All randomness comes from the node's own Prng, so a node's stream
// depends only on the seed and its index.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tools/agent/sample.hpp"
#include "tools/sim/prng.hpp"

namespace metricsd::tools {

enum class NodeKind { kGeneration, kTraining, kPi };
const char* kind_name(NodeKind kind);

// What one node reports for one interval (when online).
struct NodeReport {
  std::string mode;
  double throttle = 1;
  std::map<std::string, double> metrics;  // unlabelled: the heartbeat's `metrics`
  std::vector<Sample> labelled;           // per GPU / per expert, stamped by the caller
  double cliff_factor = 1;                // 1 = none, 0.5 = a full cliff (not sent; for tests)
};

struct CliffConfig {
  double chance_per_hour = 0.3;  // per generation node
  double ramp_s_min = 60, ramp_s_max = 240;
  double hold_s_min = 300, hold_s_max = 1200;
};

class NodeModel {
 public:
  NodeModel(NodeKind kind, uint64_t seed, CliffConfig cliff);
  NodeKind kind() const { return kind_; }
  // Advances by dt seconds and reports.
  NodeReport step(double dt, int64_t ts_ms);
  // A paused node reports mode "paused" with throttle 0: no tokens, steps or documents.
  void set_paused(bool paused) { paused_ = paused; }

 private:
  void step_mode(double dt);
  double step_cliff(double dt);
  void step_gpus(double dt, double load, NodeReport& r, int64_t ts_ms);
  void step_generation(double dt, NodeReport& r, int64_t ts_ms);
  void step_training(double dt, NodeReport& r, int64_t ts_ms);
  void step_pi(double dt, NodeReport& r);

  NodeKind kind_;
  Prng rng_;
  CliffConfig cliff_config_;
  double t_s_ = 0;
  // activity
  int mode_ = 1;         // index into the mode table: 0 idle, 1 work, 2 gaming
  bool paused_ = false;  // by a "pause" command from the server
  // GPUs
  std::vector<double> gpu_temp_c_;
  double vram_mb_ = 24564;
  double thermal_factor_ = 1;
  // generation
  double base_tokens_per_s_ = 800, demand_phase_ = 0;
  enum class Cliff { kNone, kFalling, kHolding, kRecovering } cliff_ = Cliff::kNone;
  double cliff_factor_ = 1, cliff_rate_ = 0, cliff_hold_left_s_ = 0;
  // training
  double step_ = 0, steps_per_s_ = 3, loss_init_ = 3, loss_floor_ = 1.2, tau_steps_ = 20000;
  double total_steps_ = 100000;
  std::vector<double> expert_logits_;
  // pi
  double documents_ = 0, soc_temp_c_ = 50;
};

}  // namespace metricsd::tools
