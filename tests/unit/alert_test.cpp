// Alert rules (every kind parsed and written back, every bad field named) and their
// evaluation: levels and severities, hysteresis, `for`, `keep_firing_for`, a flapping
// signal giving one firing, cliffs, absence, node loss and the suppression of a lost
// node's other alerts, rules replaced while firing, bounded windows.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/alert_eval.hpp"
#include "core/alert_rule.hpp"

namespace metricsd {
namespace {

using nlohmann::json;

AlertRule rule(const char* text, int64_t id = 1) {
  AlertRule r = parse_alert_rule(json::parse(text));
  r.id = id;
  return r;
}

void expect_error(const char* text, const std::string& field) {
  try {
    parse_alert_rule(json::parse(text));
    ADD_FAILURE() << "parsed: " << text;
  } catch (const AlertRuleError& e) {
    EXPECT_EQ(e.field, field) << text << ": " << e.what();
  }
}

TEST(AlertRule, EveryKindParsesAndWritesBackTheSame) {
  for (const char* text : {
           R"({"name":"gpu hot","kind":"threshold","metric":"gpu.temp_c","agg":"max","window":"5m",
               "levels":{"warning":70,"critical":80},"clear":65,"for":"1m","keep_firing_for":"2m"})",
           R"({"name":"disk","kind":"threshold","category":"disk","labels":{"mount":"/"},
               "direction":"below","levels":{"warning":10,"critical":5}})",
           R"({"name":"tps","kind":"cliff","metric":"llm.tokens_per_s","agg":"avg","window":"5m",
               "levels":{"critical":50}})",
           R"({"name":"quiet","kind":"absence","metric":"gpu.*","node":"gpu-*","for":"5m",
               "severity":"warning"})",
           R"({"name":"lost","kind":"node_loss","statuses":["stale","offline"]})",
       }) {
    AlertRule r = parse_alert_rule(json::parse(text));
    AlertRule again = parse_alert_rule(alert_rule_json(r));
    EXPECT_EQ(alert_rule_json(again), alert_rule_json(r)) << text;
  }
  AlertRule t = rule(R"({"name":"t","kind":"threshold","metric":"gpu.temp_c",
                        "levels":{"critical":80,"warning":70}})");
  ASSERT_EQ(t.levels.size(), 2u);
  EXPECT_EQ(t.levels[0].severity, "warning");
  EXPECT_EQ(t.clear, 70);  // no clear given: the least severe level
  EXPECT_EQ(rule(R"({"name":"n","kind":"node_loss"})").node_statuses,
            std::vector<std::string>{"offline"});
}

// The shipped defaults (config/alert-rules.example.jsonl, one rule a line) stay valid.
TEST(AlertRule, TheExampleRulesFileParses) {
  std::ifstream f(METRICSD_SOURCE_DIR "/config/alert-rules.example.jsonl");
  ASSERT_TRUE(f) << "cannot read config/alert-rules.example.jsonl";
  std::stringstream text;
  text << f.rdbuf();
  EXPECT_GE(parse_alert_rules_text(text.str()).size(), 6u);
}

// A rules file names the line at fault, skips comments and blank lines, and refuses a
// name used twice and the fields only the API sets.
TEST(AlertRule, RulesFilesNameTheLineAtFault) {
  auto rules = parse_alert_rules_text(
      "# GPU rules\n\n"
      R"({"name":"a","kind":"node_loss"})"
      "\n  \r\n"
      R"({"name":"b","kind":"absence","metric":"x.y","for":"1m"})");
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[1].name, "b");
  auto error = [](const std::string& text) {
    try {
      parse_alert_rules_text(text);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("parsed");
  };
  EXPECT_EQ(error("{\"name\":\"a\",\"kind\":\"node_loss\"}\n{nope"), "line 2: not JSON");
  EXPECT_EQ(error("\n{\"name\":\"a\",\"kind\":\"threshold\",\"metric\":\"x.y\"}"),
            "line 2: levels: required: an object of severity to value, e.g. "
            "{\"warning\": 70, \"critical\": 80}");
  EXPECT_EQ(
      error("{\"name\":\"a\",\"kind\":\"node_loss\"}\n{\"name\":\"a\",\"kind\":\"node_loss\"}"),
      "line 2: name: a is used twice");
  EXPECT_EQ(error("{\"name\":\"a\",\"kind\":\"node_loss\",\"id\":3}"),
            "line 1: id: not a field of a rules file");
}

TEST(AlertRule, BadFieldsAreNamed) {
  expect_error(R"([1])", "rule");
  expect_error(R"({"kind":"threshold"})", "name");
  expect_error(R"({"name":"x","kind":"spike"})", "kind");
  expect_error(R"({"name":"x","kind":"threshold","metric":"a.b","levels":{"warning":1},
                   "colour":"red"})",
               "colour");
  expect_error(R"({"name":"x","kind":"threshold","levels":{"warning":1}})", "metric");
  expect_error(R"({"name":"x","kind":"threshold","metric":"a b","levels":{"warning":1}})",
               "metric");
  expect_error(R"({"name":"x","kind":"threshold","metric":"a.b","agg":"p99",
                   "levels":{"warning":1}})",
               "agg");
  expect_error(R"({"name":"x","kind":"threshold","metric":"a.b","window":"-5m",
                   "levels":{"warning":1}})",
               "window");
  expect_error(R"({"name":"x","kind":"threshold","metric":"a.b","window":"soon",
                   "levels":{"warning":1}})",
               "window");
  expect_error(R"({"name":"x","kind":"threshold","metric":"a.b"})", "levels");
  expect_error(R"({"name":"x","kind":"threshold","metric":"a.b","levels":{"bad":1}})",
               "levels.bad");
  expect_error(R"({"name":"x","kind":"threshold","metric":"a.b","levels":{"warning":"hot"}})",
               "levels.warning");
  expect_error(R"({"name":"x","kind":"threshold","metric":"a.b",
                   "levels":{"warning":80,"critical":70}})",
               "levels.critical");
  expect_error(R"({"name":"x","kind":"threshold","metric":"a.b","levels":{"warning":70},
                   "clear":75})",
               "clear");
  expect_error(R"({"name":"x","kind":"threshold","metric":"a.b","direction":"up",
                   "levels":{"warning":1}})",
               "direction");
  expect_error(R"({"name":"x","kind":"cliff","metric":"a.b","levels":{"warning":50}})", "window");
  expect_error(R"({"name":"x","kind":"cliff","metric":"a.b","window":"5m",
                   "levels":{"warning":-5}})",
               "levels.warning");
  expect_error(R"({"name":"x","kind":"absence","metric":"a.b"})", "for");
  expect_error(R"({"name":"x","kind":"absence","metric":"a.b","for":"1m","severity":"page"})",
               "severity");
  expect_error(R"({"name":"x","kind":"node_loss","statuses":["gone"]})", "statuses");
  expect_error(R"({"name":"x","kind":"node_loss","metric":"a.b"})", "metric");
  expect_error(R"({"name":"x","kind":"threshold","metric":"a.b","node":"bad node!",
                   "levels":{"warning":1}})",
               "node");
}

SeriesKey key(const std::string& metric, const std::string& node) {
  return {metric, node, {}};
}

struct Feed {
  AlertEvaluator ev;
  std::vector<AlertTransition> all;
  int64_t now = 1'000'000;
  // One sample per node at `now`, then an evaluation; returns its transitions.
  std::vector<AlertTransition> at(double v, const std::string& node = "n1", int64_t series = 1) {
    ev.observe(series, key("gpu.temp_c", node), now, v);
    auto t = ev.evaluate(now, false);
    all.insert(all.end(), t.begin(), t.end());
    return t;
  }
  std::vector<AlertTransition> tick(int64_t ms) {
    now += ms;
    auto t = ev.evaluate(now, true);
    all.insert(all.end(), t.begin(), t.end());
    return t;
  }
  size_t count(const std::string& event) const {
    return static_cast<size_t>(
        std::count_if(all.begin(), all.end(), [&](const auto& t) { return t.event == event; }));
  }
};

TEST(AlertEval, LevelsEscalateAndHysteresisHoldsUntilTheClearLevel) {
  Feed f;
  f.ev.set_rules({rule(R"({"name":"hot","kind":"threshold","metric":"gpu.temp_c",
                          "levels":{"warning":70,"critical":80},"clear":65})")},
                 f.now);
  EXPECT_TRUE(f.at(60).empty());
  auto t = f.at(72);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].event, "firing");
  EXPECT_EQ(t[0].severity, "warning");
  EXPECT_EQ(t[0].value, 72);
  t = f.at(85);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].event, "escalated");
  EXPECT_EQ(t[0].severity, "critical");
  EXPECT_TRUE(f.at(75).empty());  // severity does not fall while firing
  EXPECT_TRUE(f.at(66).empty());  // under the warning level, above the clear level: firing
  ASSERT_EQ(f.ev.active().size(), 1u);
  EXPECT_EQ(f.ev.active()[0].severity, "critical");
  t = f.at(64);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].event, "resolved");
  EXPECT_TRUE(f.ev.active().empty());
}

TEST(AlertEval, AFlappingSignalFiresOnceAndResolvesOnce) {
  Feed f;
  f.ev.set_rules({rule(R"({"name":"hot","kind":"threshold","metric":"gpu.temp_c",
                          "levels":{"warning":80},"clear":75,"for":"30s","keep_firing_for":"1m"})")},
                 f.now);
  // 79.5 / 80.5 every 5 s for 10 minutes: pending, then firing after 30 s, never resolved.
  for (int i = 0; i < 120; ++i) {
    f.at(i % 2 ? 80.5 : 79.5);
    f.tick(5000);
  }
  // Below 80 but never under 75 (the clear level): pending holds, fires after 30 s, holds.
  EXPECT_EQ(f.count("firing"), 1u);
  EXPECT_EQ(f.count("resolved"), 0u);
  // Cooled: resolved once, a minute (keep_firing_for) after it went under 75.
  for (int i = 0; i < 30; ++i) {
    f.at(70);
    f.tick(5000);
  }
  EXPECT_EQ(f.count("resolved"), 1u);
  EXPECT_EQ(f.count("firing"), 1u);
}

TEST(AlertEval, ForWaitsAndAShortSpikeSaysNothing) {
  Feed f;
  f.ev.set_rules({rule(R"({"name":"hot","kind":"threshold","metric":"gpu.temp_c",
                          "levels":{"critical":80},"for":"1m"})")},
                 f.now);
  EXPECT_EQ(f.at(90)[0].event, "pending");
  f.tick(20'000);
  f.at(70);  // cleared before the minute: dropped quietly
  f.tick(60'000);
  EXPECT_EQ(f.count("firing"), 0u);
  EXPECT_TRUE(f.ev.active().empty());
  f.at(90);
  f.tick(30'000);
  f.at(91);
  EXPECT_EQ(f.count("firing"), 0u);
  auto t = f.tick(31'000);  // the timer fires it without a new sample
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].event, "firing");
}

TEST(AlertEval, WindowAggregatesAndTheWorstSeriesOfANode) {
  Feed f;
  f.ev.set_rules({rule(R"({"name":"avg","kind":"threshold","metric":"gpu.temp_c","agg":"avg",
                          "window":"1m","levels":{"warning":70}})")},
                 f.now);
  f.at(60, "n1", 1);
  f.now += 10'000;
  EXPECT_TRUE(f.at(75, "n1", 1).empty());  // avg 67.5
  f.now += 10'000;
  EXPECT_EQ(f.at(78, "n1", 1).size(), 1u);  // avg 71
  // A second GPU of the same node: one group, its value the worst series.
  f.at(95, "n1", 2);
  ASSERT_EQ(f.ev.active().size(), 1u);
  EXPECT_EQ(f.ev.active()[0].value, 95);
  // Later the hot samples leave the window.
  f.now += 70'000;
  f.at(50, "n1", 1);
  f.at(50, "n1", 2);
  EXPECT_EQ(f.count("resolved"), 1u);
}

TEST(AlertEval, CliffsCompareTheLastWindowWithTheOneBefore) {
  AlertEvaluator ev;
  ev.set_rules({rule(R"({"name":"tps","kind":"cliff","metric":"llm.tps","agg":"avg",
                        "window":"5m","levels":{"warning":30,"critical":50}})")},
               0);
  int64_t t = 1'000'000;
  std::vector<AlertTransition> seen;
  for (int i = 0; i < 60; ++i, t += 10'000) {  // 10 minutes steady at 1000
    ev.observe(7, key("llm.tps", "w1"), t, 1000);
    auto tr = ev.evaluate(t, false);
    seen.insert(seen.end(), tr.begin(), tr.end());
  }
  EXPECT_TRUE(seen.empty());
  for (int i = 0; i < 30; ++i, t += 10'000) {  // then 400: a 60 % drop once the window fills
    ev.observe(7, key("llm.tps", "w1"), t, 400);
    auto tr = ev.evaluate(t, false);
    seen.insert(seen.end(), tr.begin(), tr.end());
  }
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front().event, "firing");
  EXPECT_EQ(seen.back().severity, "critical");
}

TEST(AlertEval, AbsenceFiresAfterSilenceAndResolvesOnTheNextSample) {
  AlertEvaluator ev;
  ev.set_rules({rule(R"({"name":"quiet","kind":"absence","metric":"gpu.temp_c","for":"2m"})")}, 0);
  int64_t t = 1'000'000;
  ev.observe(1, key("gpu.temp_c", "n1"), t, 50);
  EXPECT_TRUE(ev.evaluate(t, false).empty());
  EXPECT_TRUE(ev.evaluate(t + 119'000, true).empty());
  auto tr = ev.evaluate(t + 120'000, true);
  ASSERT_EQ(tr.size(), 1u);
  EXPECT_EQ(tr[0].event, "firing");
  EXPECT_EQ(tr[0].severity, "critical");
  ev.observe(1, key("gpu.temp_c", "n1"), t + 130'000, 50);
  tr = ev.evaluate(t + 130'000, false);
  ASSERT_EQ(tr.size(), 1u);
  EXPECT_EQ(tr[0].event, "resolved");
}

TEST(AlertEval, ALostNodeGetsOneNodeLossAlertAndNoOtherNoise) {
  AlertEvaluator ev;
  ev.set_rules({rule(R"({"name":"lost","kind":"node_loss","statuses":["stale","offline"]})", 1),
                rule(R"({"name":"quiet","kind":"absence","metric":"gpu.temp_c","for":"30s"})", 2),
                rule(R"({"name":"hot","kind":"threshold","metric":"gpu.temp_c",
                        "levels":{"warning":70}})",
                     3)},
               0);
  int64_t t = 1'000'000;
  ev.observe(1, key("gpu.temp_c", "n1"), t, 50);
  ev.node_status("n1", "online");
  EXPECT_TRUE(ev.evaluate(t, false).empty());
  ev.node_status("n1", "stale");
  auto tr = ev.evaluate(t + 15'000, false);
  ASSERT_EQ(tr.size(), 1u);
  EXPECT_EQ(tr[0].rule, "lost");
  ev.node_status("n1", "offline");  // still the one alert
  EXPECT_TRUE(ev.evaluate(t + 60'000, true).empty());
  EXPECT_TRUE(ev.evaluate(t + 600'000, true).empty());  // silent, but no absence alert
  // Back: the node_loss alert resolves; a hot first sample fires its threshold alert.
  ev.node_status("n1", "online");
  ev.observe(1, key("gpu.temp_c", "n1"), t + 601'000, 90);
  tr = ev.evaluate(t + 601'000, false);
  ASSERT_EQ(tr.size(), 2u);
  EXPECT_EQ(tr[0].rule, "lost");
  EXPECT_EQ(tr[0].event, "resolved");
  EXPECT_EQ(tr[1].rule, "hot");
  EXPECT_EQ(tr[1].event, "firing");
}

TEST(AlertEval, ReplacedRulesKeepOrEndTheirAlerts) {
  Feed f;
  auto hot = rule(R"({"name":"hot","kind":"threshold","metric":"gpu.temp_c",
                     "levels":{"warning":70}})");
  f.ev.set_rules({hot}, f.now);
  f.at(90);
  EXPECT_TRUE(f.ev.set_rules({hot}, f.now).empty());  // unchanged: still firing, no word
  EXPECT_EQ(f.ev.active().size(), 1u);
  auto changed = rule(R"({"name":"hot","kind":"threshold","metric":"gpu.temp_c",
                         "levels":{"warning":95}})");
  auto tr = f.ev.set_rules({changed}, f.now);
  ASSERT_EQ(tr.size(), 1u);
  EXPECT_EQ(tr[0].event, "resolved");
  EXPECT_TRUE(f.ev.active().empty());
  // Restored after a restart: firing without a new notification, and resolvable.
  f.ev.restore({1, "hot", "n1", "firing", "warning", 99, f.now, f.now});
  EXPECT_EQ(f.ev.active().size(), 1u);
  tr = f.at(50);
  ASSERT_EQ(tr.size(), 1u);
  EXPECT_EQ(tr[0].event, "resolved");
}

TEST(AlertEval, WindowsAreBounded) {
  AlertEvaluator ev;
  ev.set_rules({rule(R"({"name":"avg","kind":"threshold","metric":"gpu.temp_c","agg":"avg",
                        "window":"1h","levels":{"warning":70}})")},
               0);
  for (int i = 0; i < 10'000; ++i)
    ev.observe(1, key("gpu.temp_c", "n1"), 1'000'000 + i, 50);
  EXPECT_EQ(ev.held_samples(), AlertEvaluator::kMaxWindowSamples);
  EXPECT_EQ(ev.dropped_samples(), 10'000 - AlertEvaluator::kMaxWindowSamples);
  ev.set_rules({}, 0);
  EXPECT_EQ(ev.held_samples(), 0u);
}

// Rules may select nodes by their registered type and labels; a node not yet registered
// matches neither, and is matched again once it is.
TEST(AlertEval, NodeTypeAndLabelFiltersUseTheRegisteredNodes) {
  AlertEvaluator ev;
  ev.set_rules({rule(R"({"name":"hot","kind":"threshold","metric":"gpu.temp_c",
                        "node_type":"infer*","node_labels":{"rack":"a"},"levels":{"warning":70}})")},
               0);
  int64_t t = 1'000'000;
  ev.observe(1, key("gpu.temp_c", "n1"), t, 90);
  EXPECT_TRUE(ev.evaluate(t, false).empty());  // n1 is not registered yet
  ev.set_node_info({{"n1", {"inference", {{"rack", "a"}, {"zone", "x"}}}},
                    {"n2", {"training", {{"rack", "a"}}}},
                    {"n3", {"inference", {{"rack", "b"}}}}});
  ev.observe(1, key("gpu.temp_c", "n1"), t + 1000, 91);
  ev.observe(2, key("gpu.temp_c", "n2"), t + 1000, 91);
  ev.observe(3, key("gpu.temp_c", "n3"), t + 1000, 91);
  auto tr = ev.evaluate(t + 1000, false);
  ASSERT_EQ(tr.size(), 1u);
  EXPECT_EQ(tr[0].node, "n1");
}

}  // namespace
}  // namespace metricsd
