// Random-walk fleet telemetry; see telemetry_walk.hpp.
#include "bench/telemetry_walk.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace metricsd::bench {
namespace {

enum class Kind {
  kTemperature,  // °C to 0.1
  kPower,        // W to 0.1
  kPercent,      // whole percent
  kMebibytes,    // whole MiB, a slow walk with jumps
  kGibibytes,    // GiB to 0.01, slowly growing
  kByteCounter,  // bytes, only grows, at a wandering rate
  kRate,         // tokens/s to 0.1
  kLoss,         // four decimals, drifting down
  kRpm,          // whole rpm
  kClock,        // MHz, a few levels
  kLoad,         // two decimals
  kProgress,     // percent to 0.1, rising, then a new job
  kScore,        // three decimals in [0, 1]
  kUptime,       // whole seconds
};

struct Metric {
  const char* name;
  Kind kind;
};

constexpr Metric kMetrics[] = {
    {"cpu_temp_c", Kind::kTemperature},
    {"gpu_temp_c", Kind::kTemperature},
    {"gpu_power_w", Kind::kPower},
    {"cpu_util_pct", Kind::kPercent},
    {"gpu_util_pct", Kind::kPercent},
    {"ram_used_mib", Kind::kMebibytes},
    {"vram_used_mib", Kind::kMebibytes},
    {"disk_used_gib", Kind::kGibibytes},
    {"net_rx_bytes", Kind::kByteCounter},
    {"net_tx_bytes", Kind::kByteCounter},
    {"disk_read_bytes", Kind::kByteCounter},
    {"disk_write_bytes", Kind::kByteCounter},
    {"tokens_per_s", Kind::kRate},
    {"train_loss", Kind::kLoss},
    {"fan_rpm", Kind::kRpm},
    {"gpu_clock_mhz", Kind::kClock},
    {"load_avg_1m", Kind::kLoad},
    {"job_progress_pct", Kind::kProgress},
    {"quality_score", Kind::kScore},
    {"uptime_s", Kind::kUptime},
};

double at_precision(double v, int decimals) {
  double scale = std::pow(10.0, decimals);
  return std::round(v * scale) / scale;
}

// One series' walk: the hidden state and how a step moves it.
class Walk {
 public:
  Walk(Kind kind, std::mt19937_64& rng, int64_t interval_ms)
      : kind_(kind), rng_(rng), interval_s_(static_cast<double>(interval_ms) / 1000) {
    switch (kind_) {
      case Kind::kTemperature:
        x_ = uniform(40, 60);
        break;
      case Kind::kPower:
        x_ = uniform(150, 350);
        break;
      case Kind::kPercent:
        x_ = uniform(0, 100);
        break;
      case Kind::kMebibytes:
        x_ = uniform(4000, 60000);
        break;
      case Kind::kGibibytes:
        x_ = uniform(50, 900);
        break;
      case Kind::kByteCounter:
        x_ = std::floor(uniform(0, 1e12));
        rate_ = std::exp(uniform(std::log(1e5), std::log(5e7)));
        break;
      case Kind::kRate:
        x_ = uniform(20, 3000);
        break;
      case Kind::kLoss:
        x_ = uniform(2, 5);
        break;
      case Kind::kRpm:
        x_ = uniform(800, 3000);
        break;
      case Kind::kClock:
        x_ = clock_level();
        break;
      case Kind::kLoad:
        x_ = uniform(0, 16);
        break;
      case Kind::kProgress:
        x_ = uniform(0, 100);
        break;
      case Kind::kScore:
        x_ = uniform(0.6, 0.95);
        break;
      case Kind::kUptime:
        x_ = std::floor(uniform(0, 1e7));
        break;
    }
  }

  // The next reported value.
  double step() {
    switch (kind_) {
      case Kind::kTemperature:
        x_ = std::clamp(x_ + normal(0.25) + (chance(0.002) ? normal(8) : 0), 25.0, 95.0);
        return at_precision(x_, 1);
      case Kind::kPower:
        x_ = std::clamp(x_ + normal(4) + (chance(0.002) ? normal(80) : 0), 50.0, 700.0);
        return at_precision(x_, 1);
      case Kind::kPercent:
        x_ = chance(0.005) ? uniform(0, 100) : std::clamp(x_ + normal(3), 0.0, 100.0);
        return at_precision(x_, 0);
      case Kind::kMebibytes:
        x_ += chance(0.3) ? normal(8) : 0;
        x_ = std::max(500.0, x_ + (chance(0.002) ? normal(3000) : 0));
        return at_precision(x_, 0);
      case Kind::kGibibytes:
        x_ += std::fabs(normal(0.004));
        return at_precision(x_, 2);
      case Kind::kByteCounter:
        rate_ *= std::exp(normal(0.05));
        x_ += std::round(rate_ * interval_s_ * uniform(0.5, 1.5));
        return x_;
      case Kind::kRate:
        x_ = std::max(1.0, x_ + normal(x_ * 0.01));
        if (chance(0.003)) x_ *= chance(0.5) ? 0.5 : 2;
        return at_precision(x_, 1);
      case Kind::kLoss:
        x_ = std::max(0.0001, x_ * (1 - 1e-4) + normal(0.01));
        return at_precision(x_, 4);
      case Kind::kRpm:
        x_ = std::max(0.0, x_ + normal(15));
        return at_precision(x_, 0);
      case Kind::kClock:
        if (chance(0.001)) x_ = clock_level();
        return x_;
      case Kind::kLoad:
        x_ = std::max(0.0, x_ + normal(0.05));
        return at_precision(x_, 2);
      case Kind::kProgress:
        x_ += std::fabs(normal(0.05));
        if (x_ > 100) x_ = 0;
        return at_precision(x_, 1);
      case Kind::kScore:
        x_ = std::clamp(x_ + normal(0.003), 0.0, 1.0);
        return at_precision(x_, 3);
      case Kind::kUptime:
        x_ += interval_s_;
        return x_;
    }
    return x_;
  }

 private:
  double uniform(double lo, double hi) { return std::uniform_real_distribution<>(lo, hi)(rng_); }
  double normal(double sd) { return std::normal_distribution<>(0, sd)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  double clock_level() {
    static constexpr double kLevels[] = {1410, 1590, 1755, 1980};
    return kLevels[std::uniform_int_distribution<int>(0, 3)(rng_)];
  }

  Kind kind_;
  std::mt19937_64& rng_;
  double interval_s_;
  double x_ = 0, rate_ = 0;
};

}  // namespace

const std::vector<std::string>& metric_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& m : kMetrics)
      out.emplace_back(m.name);
    return out;
  }();
  return names;
}

void generate_walks(const WalkSpec& spec,
                    const std::function<void(uint32_t, uint32_t, const std::vector<int64_t>&,
                                             const std::vector<double>&)>& fn) {
  const uint32_t metrics = std::min<uint32_t>(spec.metrics, std::size(kMetrics));
  const int64_t rounds = spec.duration_ms / spec.interval_ms;
  std::vector<int64_t> ts;
  std::vector<double> vals;
  for (uint32_t node = 0; node < spec.nodes; ++node) {
    std::mt19937_64 rng(spec.seed * 1'000'003 + node);
    // The node's phase within the interval, and its gaps: each hour a 2 % chance of going
    // away for 1 to 30 minutes.
    const int64_t phase = std::uniform_int_distribution<int64_t>(0, spec.interval_ms - 1)(rng);
    std::vector<bool> present(static_cast<size_t>(rounds), true);
    const int64_t per_hour = 3'600'000 / spec.interval_ms;
    for (int64_t r = 0; r < rounds; r += per_hour)
      if (std::bernoulli_distribution(0.02)(rng)) {
        int64_t from = r + std::uniform_int_distribution<int64_t>(0, per_hour - 1)(rng);
        int64_t len =
            std::uniform_int_distribution<int64_t>(60'000, 1'800'000)(rng) / spec.interval_ms;
        for (int64_t g = from; g < std::min(rounds, from + len); ++g)
          present[static_cast<size_t>(g)] = false;
      }
    std::vector<int64_t> jitter(static_cast<size_t>(rounds), 0);
    if (spec.jitter_ms > 0)
      for (auto& j : jitter)
        j = std::uniform_int_distribution<int64_t>(-spec.jitter_ms, spec.jitter_ms)(rng);
    for (uint32_t m = 0; m < metrics; ++m) {
      Walk walk(kMetrics[m].kind, rng, spec.interval_ms);
      ts.clear();
      vals.clear();
      for (int64_t r = 0; r < rounds; ++r) {
        double v = walk.step();  // the walk goes on while the node is away
        if (!present[static_cast<size_t>(r)]) continue;
        ts.push_back(spec.start_ms + phase + r * spec.interval_ms + jitter[static_cast<size_t>(r)]);
        vals.push_back(v);
      }
      fn(node, m, ts, vals);
    }
  }
}

}  // namespace metricsd::bench
