// The fleet simulator's model: the same seed gives the same sample stream (another seed a
// different one), the PRNG's distributions, and the shapes a demo relies on: performance
// cliffs (-50 % within minutes), nodes that go silent long enough to be offline and come
// back, a falling loss, expert activations that sum to 1, the fleet's mix of kinds.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "tools/sim/fleet_model.hpp"
#include "tools/sim/prng.hpp"
#include "tools/sim/sim_options.hpp"

namespace metricsd::tools {
namespace {

// A fingerprint of everything a run would send, tick by tick.
std::vector<std::string> stream(uint64_t seed, int ticks, size_t nodes = 20) {
  FleetConfig c;
  c.nodes = nodes;
  c.seed = seed;
  c.interval_s = 5;
  c.outage_chance_per_hour = 5;
  FleetModel fleet(c);
  std::vector<std::string> out;
  for (int t = 0; t < ticks; ++t) {
    for (const auto& n : fleet.step(1000 * t)) {
      std::string line = *n.node_id + (n.online ? " on " : " off ") + n.report.mode;
      char buf[64];
      for (const auto& [k, v] : n.report.metrics) {
        std::snprintf(buf, sizeof buf, " %a", v);
        line += " " + k + buf;
      }
      for (const auto& s : n.report.labelled) {
        std::snprintf(buf, sizeof buf, " %a", s.value);
        line += " " + s.metric + buf;
      }
      out.push_back(line);
    }
  }
  return out;
}

TEST(SimModel, SameSeedGivesTheSameStreamAndAnotherSeedDoesNot) {
  auto a = stream(42, 200), b = stream(42, 200), c = stream(43, 200);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(SimModel, PrngIsPortableAndItsDistributionsBehave) {
  Prng p(1);
  Prng q(1);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(p.next(), q.next());
  Prng r(123);
  double sum = 0, sq = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    double u = r.uniform();
    ASSERT_GE(u, 0);
    ASSERT_LT(u, 1);
    double g = r.normal(10, 2);
    sum += g;
    sq += (g - 10) * (g - 10);
  }
  EXPECT_NEAR(sum / n, 10, 0.05);
  EXPECT_NEAR(std::sqrt(sq / n), 2, 0.05);
  for (int i = 0; i < 1000; ++i)
    EXPECT_LT(r.below(7), 7u);
  EXPECT_NE(stream_seed(1, 0), stream_seed(1, 1));
}

TEST(SimModel, FleetMixesKindsAndStartsAllOnline) {
  FleetConfig c;
  c.nodes = 10;
  c.outage_chance_per_hour = 3600;  // would be silent at once, but never on the first tick
  FleetModel fleet(c);
  auto first = fleet.step(0);
  std::map<NodeKind, int> kinds;
  for (const auto& n : first) {
    EXPECT_TRUE(n.online);
    ++kinds[n.kind];
  }
  EXPECT_EQ(kinds[NodeKind::kGeneration], 5);
  EXPECT_EQ(kinds[NodeKind::kTraining], 3);
  EXPECT_EQ(kinds[NodeKind::kPi], 2);
  EXPECT_EQ(fleet.node_ids()[0], "sim-gen-0001");
  EXPECT_EQ(fleet.node_ids()[5], "sim-train-0006");
  EXPECT_EQ(fleet.node_ids()[9], "sim-pi-0010");
}

TEST(SimModel, NodesGoSilentLongEnoughToBeOfflineAndComeBack) {
  FleetConfig c;
  c.nodes = 10;
  c.interval_s = 5;
  c.outage_chance_per_hour = 2;
  FleetModel fleet(c);
  const int ticks = 4 * 3600 / 5;  // four hours
  std::vector<std::vector<bool>> online(c.nodes);
  for (int t = 0; t < ticks; ++t)
    for (const auto& n : fleet.step(t))
      online[n.index].push_back(n.online);
  int outages = 0;
  for (const auto& o : online) {
    for (size_t t = 1; t < o.size(); ++t) {
      if (o[t] || !o[t - 1]) continue;
      size_t end = t;
      while (end < o.size() && !o[end])
        ++end;
      if (end == o.size()) break;  // still silent at the end of the run
      ++outages;
      const double silent_s = (end - t) * c.interval_s;
      EXPECT_GE(silent_s, c.outage_s_min - c.interval_s);  // past the 60 s offline threshold
      EXPECT_LE(silent_s, c.outage_s_max + c.interval_s);
    }
  }
  EXPECT_GE(outages, 20);  // about 2 per node-hour × 40 node-hours
}

TEST(SimModel, PerformanceCliffHalvesTokensWithinMinutesAndRecovers) {
  FleetConfig c;
  c.nodes = 1;  // one generation node
  c.interval_s = 5;
  c.outage_chance_per_hour = 0;
  c.cliff.chance_per_hour = 1;
  FleetModel fleet(c);
  std::vector<double> factor, tokens;
  for (int t = 0; t < 6 * 3600 / 5; ++t) {
    auto n = fleet.step(t).at(0);
    factor.push_back(n.report.cliff_factor);
    tokens.push_back(n.report.metrics.at("llm.tokens_per_s"));
  }
  // Find a cliff: from 1.0 down to 0.5 within the configured ramp (at most 4 minutes).
  int cliffs = 0;
  double in_cliff = 0, normal = 0;
  int n_in = 0, n_normal = 0;
  for (size_t t = 1; t < factor.size(); ++t) {
    if (factor[t - 1] == 1.0 && factor[t] < 1.0) {
      size_t bottom = t;
      while (bottom < factor.size() && factor[bottom] > 0.5)
        ++bottom;
      if (bottom == factor.size()) break;
      ++cliffs;
      EXPECT_LE((bottom - t + 1) * c.interval_s, c.cliff.ramp_s_max + 2 * c.interval_s);
    }
    if (factor[t] <= 0.5) {
      in_cliff += tokens[t];
      ++n_in;
    } else if (factor[t] == 1.0) {
      normal += tokens[t];
      ++n_normal;
    }
  }
  EXPECT_GE(cliffs, 2);
  ASSERT_GT(n_in, 0);
  ASSERT_GT(n_normal, 0);
  EXPECT_LT(in_cliff / n_in, 0.7 * normal / n_normal);  // about half, demand and modes aside
  int recoveries = 0;
  for (size_t t = 1; t < factor.size(); ++t)
    if (factor[t - 1] < 1.0 && factor[t] == 1.0) ++recoveries;
  EXPECT_GE(recoveries, 1);
}

TEST(SimModel, TrainingLossFallsAndExpertsSumToOne) {
  FleetConfig c;
  c.nodes = 6;  // index 5 is the first training node
  c.outage_chance_per_hour = 0;
  c.interval_s = 10;
  FleetModel fleet(c);
  double first_loss = 0, last_loss = 0;
  for (int t = 0; t < 600; ++t) {
    auto n = fleet.step(t).at(5);
    ASSERT_EQ(n.kind, NodeKind::kTraining);
    const double loss = n.report.metrics.at("train.loss");
    if (t < 20) first_loss += loss / 20;
    if (t >= 580) last_loss += loss / 20;
    double sum = 0;
    int experts = 0;
    for (const auto& s : n.report.labelled)
      if (s.metric == "neural.expert_activation") {
        sum += s.value;
        ++experts;
        ASSERT_TRUE(s.labels.count("expert"));
      }
    EXPECT_EQ(experts, 8);
    EXPECT_NEAR(sum, 1.0, 1e-9);
    EXPECT_GT(n.report.metrics.at("train.learning_rate"), 0);
  }
  EXPECT_LT(last_loss, first_loss);
}

TEST(SimModel, ModesAndThrottlesAreReportedAndQualityStaysInRange) {
  FleetConfig c;
  c.nodes = 10;
  c.outage_chance_per_hour = 0;
  FleetModel fleet(c);
  std::set<std::string> modes;
  for (int t = 0; t < 2000; ++t)
    for (const auto& n : fleet.step(t)) {
      modes.insert(n.report.mode);
      EXPECT_GT(n.report.throttle, 0);
      EXPECT_LE(n.report.throttle, 1);
      if (n.kind == NodeKind::kGeneration) {
        const double q = n.report.metrics.at("llm.quality_score");
        EXPECT_GE(q, 1);
        EXPECT_LE(q, 10);
        if (n.report.mode == "gaming") {
          EXPECT_DOUBLE_EQ(n.report.throttle, 0.5);
        }
      }
    }
  EXPECT_EQ(modes, (std::set<std::string>{"idle", "work", "gaming"}));
}

TEST(SimModel, CommandsPauseResumeStopAndRestartNodes) {
  FleetConfig c;
  c.nodes = 10;
  c.interval_s = 5;
  c.outage_chance_per_hour = 0;
  FleetModel fleet(c);
  fleet.step(0);
  EXPECT_TRUE(fleet.apply_command(0, "pause"));
  EXPECT_TRUE(fleet.apply_command(5, "pause"));
  EXPECT_TRUE(fleet.apply_command(8, "pause"));
  EXPECT_TRUE(fleet.apply_command(1, "stop"));
  EXPECT_TRUE(fleet.apply_command(2, "restart"));
  EXPECT_FALSE(fleet.apply_command(3, "format-disk"));
  EXPECT_FALSE(fleet.apply_command(99, "pause"));
  auto t = fleet.step(1);
  EXPECT_EQ(t[0].report.mode, "paused");
  EXPECT_DOUBLE_EQ(t[0].report.throttle, 0);
  EXPECT_DOUBLE_EQ(t[0].report.metrics.at("llm.tokens_per_s"), 0);
  const double step = t[5].report.metrics.at("train.step");
  EXPECT_DOUBLE_EQ(fleet.step(2)[5].report.metrics.at("train.step"), step);  // no progress
  EXPECT_DOUBLE_EQ(t[8].report.metrics.at("language.documents_per_min"), 0);
  EXPECT_FALSE(t[1].online);
  EXPECT_FALSE(t[2].online);
  fleet.apply_command(0, "resume");
  bool restarted = false;
  for (int i = 3; i < 12; ++i) {  // 45 s: the restart (10-30 s) is over
    auto n = fleet.step(i);
    EXPECT_FALSE(n[1].online);
    restarted = restarted || n[2].online;
    EXPECT_NE(n[0].report.mode, "paused");
  }
  EXPECT_TRUE(restarted);
}

TEST(SimOptionsParse, DurationsAndBounds) {
  EXPECT_DOUBLE_EQ(parse_duration_s("90"), 90);
  EXPECT_DOUBLE_EQ(parse_duration_s("15m"), 900);
  EXPECT_DOUBLE_EQ(parse_duration_s("2h"), 7200);
  EXPECT_LT(parse_duration_s("x"), 0);
  auto o = parse_sim_options({"--nodes", "7", "--duration", "3s", "--seed=9"});
  EXPECT_EQ(o.nodes, 7u);
  EXPECT_DOUBLE_EQ(o.duration_s, 3);
  EXPECT_EQ(o.seed, 9u);
  EXPECT_THROW(parse_sim_options({"--duration", "30d"}), std::invalid_argument);
  EXPECT_THROW(parse_sim_options({"--nodes", "0"}), std::invalid_argument);
  EXPECT_THROW(parse_sim_options({"--bogus"}), std::invalid_argument);
  EXPECT_THROW(parse_sim_options({"--server", "localhost:8080"}), std::invalid_argument);
  EXPECT_THROW(parse_sim_options({"--prefix", "bad prefix"}), std::invalid_argument);
}

}  // namespace
}  // namespace metricsd::tools
