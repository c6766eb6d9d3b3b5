// The simulated node kinds (see node_models.hpp).
#include "tools/sim/node_models.hpp"

#include <algorithm>
#include <cmath>

namespace metricsd::tools {
namespace {

struct Mode {
  const char* name;
  double throttle;
};
// A workstation that also serves models: gaming takes half of it.
constexpr Mode kModes[] = {{"idle", 1.0}, {"work", 0.8}, {"gaming", 0.5}};
constexpr double kMeanModeDwellS = 1200;

double clamp(double v, double lo, double hi) {
  return std::min(hi, std::max(lo, v));
}

// Probability of an event with `per_hour` rate within dt seconds.
double chance_within(double per_hour, double dt) {
  return 1.0 - std::exp(-per_hour * dt / 3600.0);
}

}  // namespace

const char* kind_name(NodeKind kind) {
  switch (kind) {
    case NodeKind::kGeneration:
      return "generation";
    case NodeKind::kTraining:
      return "training";
    case NodeKind::kPi:
      return "pi";
  }
  return "unknown";
}

NodeModel::NodeModel(NodeKind kind, uint64_t seed, CliffConfig cliff)
    : kind_(kind), rng_(seed), cliff_config_(cliff) {
  const size_t gpus = kind == NodeKind::kGeneration ? 1 + rng_.below(2)
                      : kind == NodeKind::kTraining ? 2 + 2 * rng_.below(2)
                                                    : 0;
  for (size_t i = 0; i < gpus; ++i)
    gpu_temp_c_.push_back(rng_.uniform(35, 45));
  vram_mb_ = rng_.chance(0.5) ? 24564 : 49140;
  base_tokens_per_s_ = rng_.uniform(500, 1400);
  demand_phase_ = rng_.uniform(0, 2 * M_PI);
  steps_per_s_ = rng_.uniform(1.5, 6);
  loss_init_ = rng_.uniform(2.5, 4);
  loss_floor_ = rng_.uniform(0.9, 1.6);
  tau_steps_ = rng_.uniform(8000, 30000);
  total_steps_ = rng_.uniform(60000, 150000);
  step_ = rng_.uniform(0, total_steps_ / 2);  // runs are already under way
  for (int i = 0; i < 8; ++i)
    expert_logits_.push_back(rng_.normal(0, 0.5));
  documents_ = std::floor(rng_.uniform(0, 100000));
  mode_ = kind == NodeKind::kGeneration ? static_cast<int>(rng_.below(3)) : 1;
}

void NodeModel::step_mode(double dt) {
  if (!rng_.chance(1.0 - std::exp(-dt / kMeanModeDwellS))) return;
  if (kind_ == NodeKind::kGeneration) {
    const double u = rng_.uniform();
    mode_ = u < 0.3 ? 0 : u < 0.8 ? 1 : 2;
  } else {
    mode_ = rng_.chance(0.85) ? 1 : 0;  // servers and Pis: mostly work, sometimes idle
  }
}

double NodeModel::step_cliff(double dt) {
  switch (cliff_) {
    case Cliff::kNone:
      if (rng_.chance(chance_within(cliff_config_.chance_per_hour, dt))) {
        cliff_ = Cliff::kFalling;
        cliff_rate_ = 0.5 / rng_.uniform(cliff_config_.ramp_s_min, cliff_config_.ramp_s_max);
      }
      break;
    case Cliff::kFalling:
      cliff_factor_ = std::max(0.5, cliff_factor_ - cliff_rate_ * dt);
      if (cliff_factor_ <= 0.5) {
        cliff_ = Cliff::kHolding;
        cliff_hold_left_s_ = rng_.uniform(cliff_config_.hold_s_min, cliff_config_.hold_s_max);
      }
      break;
    case Cliff::kHolding:
      cliff_hold_left_s_ -= dt;
      if (cliff_hold_left_s_ <= 0) cliff_ = Cliff::kRecovering;
      break;
    case Cliff::kRecovering:
      cliff_factor_ = std::min(1.0, cliff_factor_ + cliff_rate_ * dt);
      if (cliff_factor_ >= 1.0) cliff_ = Cliff::kNone;
      break;
  }
  return cliff_factor_;
}

void NodeModel::step_gpus(double dt, double load, NodeReport& r, int64_t ts_ms) {
  double hottest = 0;
  for (size_t i = 0; i < gpu_temp_c_.size(); ++i) {
    const double util = clamp(100 * load + rng_.normal(0, 3), 0, 100);
    const double target = 34 + 0.52 * util + rng_.normal(0, 1);
    double& temp = gpu_temp_c_[i];
    temp += (target - temp) * (1 - std::exp(-dt / 90)) + rng_.normal(0, 0.3);
    hottest = std::max(hottest, temp);
    const Labels gpu{{"gpu", std::to_string(i)}};
    const double clock = 1980 * (temp > 83 ? 0.75 : 1.0) * (util < 5 ? 0.3 : 1.0);
    r.labelled.push_back({"gpu.util", gpu, util, ts_ms, ""});
    r.labelled.push_back({"gpu.temp_c", gpu, temp, ts_ms, ""});
    r.labelled.push_back({"gpu.mem_used_mb", gpu,
                          vram_mb_ * clamp(0.55 + 0.3 * load + rng_.normal(0, 0.01), 0, 1), ts_ms,
                          ""});
    r.labelled.push_back({"gpu.mem_total_mb", gpu, vram_mb_, ts_ms, ""});
    r.labelled.push_back({"gpu.power_w", gpu, 30 + 3.2 * util + rng_.normal(0, 4), ts_ms, ""});
    r.labelled.push_back({"gpu.clock_sm_mhz", gpu, clock, ts_ms, ""});
  }
  // Thermal throttling above 83 °C, easing off as the GPUs cool.
  thermal_factor_ = hottest > 83 ? std::max(0.6, 1 - 0.05 * (hottest - 83)) : 1.0;
}

void NodeModel::step_generation(double dt, NodeReport& r, int64_t ts_ms) {
  // Demand: a six-hour wave per node plus noise.
  const double demand =
      clamp(0.6 + 0.3 * std::sin(2 * M_PI * t_s_ / 21600 + demand_phase_) + rng_.normal(0, 0.04),
            0.05, 1);
  const double gaming_gpu = mode_ == 2 ? 0.35 : 0;
  step_gpus(dt, clamp(demand * r.throttle + gaming_gpu, 0, 1), r, ts_ms);
  const double hottest = *std::max_element(gpu_temp_c_.begin(), gpu_temp_c_.end());
  const double derating = 1 - 0.004 * std::max(0.0, hottest - 65);
  const double cliff = step_cliff(dt);
  const double tokens = std::max(0.0, base_tokens_per_s_ * demand * r.throttle * thermal_factor_ *
                                          derating * cliff * (1 + rng_.normal(0, 0.03)));
  r.cliff_factor = cliff;
  r.metrics["llm.tokens_per_s"] = tokens;
  r.metrics["llm.conversations_per_h"] = tokens * 3600 / rng_.uniform(800, 1100);
  r.metrics["llm.quality_score"] =
      clamp(8.1 + rng_.normal(0, 0.3) - 3 * (1 - cliff) - (thermal_factor_ < 1 ? 0.6 : 0), 1, 10);
  r.metrics["llm.latency_ms"] = 25 + 18000 / std::max(tokens, 20.0) + rng_.normal(0, 2);
  r.metrics["system.cpu_util"] =
      clamp(15 + 30 * demand + (mode_ == 2 ? 35 : 0) + rng_.normal(0, 4), 0, 100);
  r.metrics["system.mem_used_pct"] = clamp(45 + 25 * demand + rng_.normal(0, 2), 0, 100);
}

void NodeModel::step_training(double dt, NodeReport& r, int64_t ts_ms) {
  step_gpus(dt, clamp(0.95 * r.throttle, 0, 1), r, ts_ms);
  const double sps = steps_per_s_ * r.throttle * thermal_factor_;
  step_ += sps * dt;
  if (step_ >= total_steps_) {  // the run is over: a new one starts
    step_ = 0;
    loss_init_ = rng_.uniform(2.5, 4);
    loss_floor_ = rng_.uniform(0.9, 1.6);
  }
  const double loss_mean = loss_floor_ + (loss_init_ - loss_floor_) * std::exp(-step_ / tau_steps_);
  const double warmup = 2000, peak_lr = 3e-4, min_lr = 3e-5;
  const double lr =
      step_ < warmup
          ? peak_lr * step_ / warmup
          : min_lr + 0.5 * (peak_lr - min_lr) *
                         (1 + std::cos(M_PI * (step_ - warmup) / (total_steps_ - warmup)));
  r.metrics["train.loss"] = std::max(0.01, loss_mean * (1 + rng_.normal(0, 0.02)));
  r.metrics["train.learning_rate"] = lr;
  r.metrics["train.step"] = std::floor(step_);
  r.metrics["train.samples_per_s"] = sps * 32;
  r.metrics["train.grad_norm"] =
      std::abs(rng_.normal(1.0, 0.15)) * (1 + 2 * std::exp(-step_ / 3000));
  r.metrics["system.cpu_util"] = clamp(40 + rng_.normal(0, 5), 0, 100);
  r.metrics["system.mem_used_pct"] = clamp(70 + rng_.normal(0, 2), 0, 100);
  // Experts: logits drift (mean-reverting), activations are their softmax.
  double sum = 0;
  std::vector<double> act(expert_logits_.size());
  for (size_t i = 0; i < expert_logits_.size(); ++i) {
    expert_logits_[i] += -0.02 * expert_logits_[i] * dt + rng_.normal(0, 0.05) * std::sqrt(dt);
    act[i] = std::exp(expert_logits_[i]);
    sum += act[i];
  }
  for (size_t i = 0; i < act.size(); ++i)
    r.labelled.push_back(
        {"neural.expert_activation", {{"expert", std::to_string(i)}}, act[i] / sum, ts_ms, ""});
}

void NodeModel::step_pi(double dt, NodeReport& r) {
  const double busy = paused_ ? 0.02 : mode_ == 0 ? 0.1 : clamp(0.7 + rng_.normal(0, 0.1), 0, 1);
  soc_temp_c_ += (42 + 35 * busy - soc_temp_c_) * (1 - std::exp(-dt / 60)) + rng_.normal(0, 0.2);
  // The Pi halves its clock above 80 °C.
  if (!paused_) r.throttle = soc_temp_c_ > 80 ? 0.5 : 1.0;
  const double noise = rng_.normal(0, 2);
  const double docs_per_min = paused_ ? 0 : std::max(0.0, 40 * busy * r.throttle + noise);
  documents_ += docs_per_min * dt / 60;
  r.metrics["system.cpu_util"] = clamp(100 * busy + rng_.normal(0, 3), 0, 100);
  r.metrics["system.temp_c"] = soc_temp_c_;
  r.metrics["system.load1"] = std::max(0.0, 4 * busy + rng_.normal(0, 0.2));
  r.metrics["system.mem_used_pct"] = clamp(35 + 30 * busy + rng_.normal(0, 2), 0, 100);
  r.metrics["language.documents_processed"] = std::floor(documents_);
  r.metrics["language.documents_per_min"] = docs_per_min;
  r.metrics["language.entities_per_doc"] = std::max(0.0, rng_.normal(23, 4));
  r.metrics["language.queue_depth"] =
      std::max(0.0, std::round(rng_.normal(12 * (1 - busy) + 3, 2)));
}

NodeReport NodeModel::step(double dt, int64_t ts_ms) {
  t_s_ += dt;
  step_mode(dt);
  NodeReport r;
  r.mode = kModes[mode_].name;
  r.throttle = kind_ == NodeKind::kGeneration ? kModes[mode_].throttle : mode_ == 0 ? 0.2 : 1.0;
  if (paused_) {
    r.mode = "paused";
    r.throttle = 0;
  }
  switch (kind_) {
    case NodeKind::kGeneration:
      step_generation(dt, r, ts_ms);
      break;
    case NodeKind::kTraining:
      step_training(dt, r, ts_ms);
      break;
    case NodeKind::kPi:
      step_pi(dt, r);
      break;
  }
  return r;
}

}  // namespace metricsd::tools
