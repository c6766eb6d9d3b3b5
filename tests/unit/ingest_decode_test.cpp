// Ingest decoding (api/ingest_decode.hpp): line protocol and JSON bodies to a SampleBatch,
// the node rules, name sanitising, time bounds, label limits, and problems that name the
// line or field at fault (at most 100).
#include "api/ingest_decode.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <string>
#include <vector>

#include "core/time_parse.hpp"

namespace metricsd::api {
namespace {

constexpr int64_t kNow = 1'795'514'400'000;  // 2026-11-24T10:00:00Z
constexpr int64_t kFuture = 300'000;         // 5 minutes
constexpr int64_t kRetention = 30LL * 86'400'000;
const TimeBounds kBounds{kNow, kFuture, kRetention};

// "metric|node|k=v,k=v|ts_ms|value" per sample, in order.
std::vector<std::string> describe(const SampleBatch& b) {
  std::vector<std::string> out;
  for (size_t i = 0; i < b.size(); ++i) {
    const SeriesKey& s = b.series.at(b.series_index[i]);
    std::string labels;
    for (const auto& [k, v] : s.labels)
      labels += (labels.empty() ? "" : ",") + k + "=" + v;
    out.push_back(fmt::format("{}|{}|{}|{}|{}", s.metric, s.node, labels, b.ts_ms[i], b.values[i]));
  }
  return out;
}

// Each problem as "line N: message" or "field: message".
std::vector<std::string> describe(const Problems& p) {
  std::vector<std::string> out;
  for (const auto& d : p.details) {
    std::string where = d.contains("line") ? fmt::format("line {}", d["line"].get<size_t>())
                                           : d["field"].get<std::string>();
    out.push_back(where + ": " + d["message"].get<std::string>());
  }
  return out;
}

struct LpResult {
  std::vector<std::string> samples;
  std::vector<std::string> problems;
  size_t string_fields_skipped = 0;
};

LpResult decode_lp(std::string_view body, std::string_view default_node = "",
                   Precision precision = Precision::kNanoseconds) {
  Problems problems;
  LineProtocolStats stats;
  SampleBatch b = decode_line_protocol(body, precision, default_node, kBounds, problems, stats);
  EXPECT_EQ(problems.count, problems.details.size());
  return {describe(b), describe(problems), stats.string_fields_skipped};
}

// True when exactly one problem was reported and it starts with `where` and holds `part`.
testing::AssertionResult one_problem(const std::vector<std::string>& problems,
                                     const std::string& where, const std::string& part) {
  if (problems.size() != 1)
    return testing::AssertionFailure()
           << problems.size() << " problems: " << testing::PrintToString(problems);
  if (problems[0].rfind(where + ": ", 0) != 0 || problems[0].find(part) == std::string::npos)
    return testing::AssertionFailure() << problems[0];
  return testing::AssertionSuccess();
}

TEST(DecodeLineProtocol, MeasurementAndFieldNameTheMetricAndTagsBecomeLabels) {
  auto r = decode_lp("gpu,node=gpu-07,gpu=0 temp_c=71.5,util=93i 1795514400000000000\n");
  EXPECT_TRUE(r.problems.empty()) << testing::PrintToString(r.problems);
  EXPECT_EQ(r.samples, (std::vector<std::string>{"gpu.temp_c|gpu-07|gpu=0|1795514400000|71.5",
                                                 "gpu.util|gpu-07|gpu=0|1795514400000|93"}));
}

TEST(DecodeLineProtocol, NodeComesFromNodeTagElseHostTagElseQueryParameter) {
  struct Case {
    std::string line;
    std::string default_node;
    std::string sample;
  };
  const Case cases[] = {
      {"m,node=n1,b=2,a=1 v=1 1795514400000000000", "", "m.v|n1|a=1,b=2|1795514400000|1"},
      {"m,host=h1,cpu=c0 v=1 1795514400000000000", "", "m.v|h1|cpu=c0|1795514400000|1"},
      {"m,host=h1,node=n1 v=1 1795514400000000000", "", "m.v|n1|host=h1|1795514400000|1"},
      {"m,host=h1 v=1 1795514400000000000", "q1", "m.v|h1||1795514400000|1"},
      {"m v=1 1795514400000000000", "q1", "m.v|q1||1795514400000|1"},
      {"m,t=x v=1 1795514400000000000", "q1", "m.v|q1|t=x|1795514400000|1"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    auto r = decode_lp(c.line, c.default_node);
    EXPECT_TRUE(r.problems.empty()) << testing::PrintToString(r.problems);
    EXPECT_EQ(r.samples, std::vector<std::string>{c.sample});
  }
}

TEST(DecodeLineProtocol, MissingOrInvalidNodeIsAProblemNamingTheLine) {
  auto r = decode_lp("a,node=x v=1\nb v=2\n");
  EXPECT_TRUE(one_problem(r.problems, "line 2", "no node"));
  r = decode_lp("a,node=bad/node v=1\n", "q1");
  EXPECT_TRUE(one_problem(r.problems, "line 1", "node id \"bad/node\""));
  r = decode_lp("a v=1\n", "-bad");
  EXPECT_TRUE(one_problem(r.problems, "line 1", "node id \"-bad\""));
}

TEST(DecodeLineProtocol, BadCharactersInNamesBecomeUnderscores) {
  struct Case {
    std::string line;
    std::string sample;
  };
  const Case cases[] = {
      {"my-meas/x,node=n field/name=1 0", "my-meas_x.field_name|n||0|1"},
      {R"(cpu\ load,node=n,tag-key=v,a.b=w v=1 0)", "cpu_load.v|n|a_b=w,tag_key=v|0|1"},
      {"1m,node=n 2f=1 0", "_1m._2f|n||0|1"},
      {"m,node=n,9=x v=1 0", "m.v|n|_9=x|0|1"},
      {"temp\xC2\xB0,node=n v=1 0", "temp__.v|n||0|1"},
      // Tag values are kept as they are.
      {R"(m,node=n,t=a\ b/c v=1 0)", "m.v|n|t=a b/c|0|1"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    Problems problems;
    LineProtocolStats stats;
    TimeBounds epoch{0, kFuture, kRetention};
    SampleBatch b = decode_line_protocol(c.line, Precision::kSeconds, "", epoch, problems, stats);
    EXPECT_TRUE(problems.empty()) << problems.details.dump();
    EXPECT_EQ(describe(b), std::vector<std::string>{c.sample});
  }
}

TEST(DecodeLineProtocol, StringFieldsAreSkippedAndCountedBooleansAreZeroOrOne) {
  auto r = decode_lp("m,node=n s=\"x\",up=t,down=FALSE,t=\"y\" 1795514400000000000\n");
  EXPECT_TRUE(r.problems.empty());
  EXPECT_EQ(r.samples,
            (std::vector<std::string>{"m.up|n||1795514400000|1", "m.down|n||1795514400000|0"}));
  EXPECT_EQ(r.string_fields_skipped, 2u);
  r = decode_lp("m,node=n s=\"only strings\"\n");
  EXPECT_TRUE(r.problems.empty());
  EXPECT_TRUE(r.samples.empty());
  EXPECT_EQ(r.string_fields_skipped, 1u);
}

TEST(DecodeLineProtocol, TimestampsFollowThePrecisionAndDefaultToNow) {
  struct Case {
    std::string line;
    Precision precision;
    int64_t ts_ms;
  };
  const Case cases[] = {
      {"m,node=n v=1", Precision::kNanoseconds, kNow},
      {"m,node=n v=1 1795514400123456789", Precision::kNanoseconds, kNow + 123},
      {"m,node=n v=1 1795514400123456", Precision::kMicroseconds, kNow + 123},
      {"m,node=n v=1 1795514400123", Precision::kMilliseconds, kNow + 123},
      {"m,node=n v=1 1795514400", Precision::kSeconds, kNow},
      {"m,node=n v=1 29925240", Precision::kMinutes, kNow},
      {"m,node=n v=1 498754", Precision::kHours, kNow},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    auto r = decode_lp(c.line, "", c.precision);
    EXPECT_TRUE(r.problems.empty()) << testing::PrintToString(r.problems);
    EXPECT_EQ(r.samples, std::vector<std::string>{fmt::format("m.v|n||{}|1", c.ts_ms)});
  }
}

TEST(DecodeLineProtocol, TimestampsOutsideTheBoundsAreRejected) {
  struct Case {
    int64_t ts_ms;
    std::string problem_part;  // "" when accepted
  };
  const Case cases[] = {
      {kNow + kFuture, ""},
      {kNow + kFuture + 1, "in the future"},
      {kNow - kRetention, ""},
      {kNow - kRetention - 1, "older than the raw retention"},
      {0, "older than the raw retention"},
      {-1, "older than the raw retention"},
      {std::numeric_limits<int64_t>::min(), "older than the raw retention"},
      {std::numeric_limits<int64_t>::max(), "in the future"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.ts_ms);
    auto r = decode_lp(fmt::format("m,node=n v=1 {}", c.ts_ms), "", Precision::kMilliseconds);
    if (c.problem_part.empty()) {
      EXPECT_TRUE(r.problems.empty()) << testing::PrintToString(r.problems);
      EXPECT_EQ(r.samples.size(), 1u);
    } else {
      EXPECT_TRUE(one_problem(r.problems, "line 1", c.problem_part));
    }
  }
  auto r = decode_lp("m,node=n v=1 9223372036854775807", "", Precision::kHours);
  EXPECT_TRUE(one_problem(r.problems, "line 1", "timestamp out of range for the precision"));
}

TEST(DecodeLineProtocol, AtMost32LabelsBesidesTheNode) {
  auto line_with_tags = [](int n) {
    std::string line = "m,node=n";
    for (int i = 0; i < n; ++i)
      line += fmt::format(",t{:02}=v", i);
    return line + " v=1";
  };
  auto r = decode_lp(line_with_tags(32));
  EXPECT_TRUE(r.problems.empty()) << testing::PrintToString(r.problems);
  EXPECT_EQ(r.samples.size(), 1u);
  r = decode_lp(line_with_tags(33));
  EXPECT_TRUE(one_problem(r.problems, "line 1", "33 labels; at most 32"));
}

TEST(DecodeLineProtocol, LabelProblemsAreReported) {
  struct Case {
    std::string line;
    std::string problem_part;
  };
  const Case cases[] = {
      {"m,node=n,a-b=1,a_b=2 v=1", "label \"a_b\" appears twice"},
      {"m,node=n,a=1,a=2 v=1", "label \"a\" appears twice"},
      {"m,node=n,t=\xFF v=1", "value of label \"t\" must be UTF-8"},
      {"m,node=n,t=" + std::string(1025, 'x') + " v=1", "value of label \"t\""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line.substr(0, 60));
    auto r = decode_lp(c.line);
    EXPECT_TRUE(one_problem(r.problems, "line 1", c.problem_part));
  }
}

TEST(DecodeLineProtocol, RepeatedNodeTagIsAProblem) {
  // Regression (found by fuzz_line_protocol): the first of two `node` tags became a label
  // named "node" while the last named the node.
  struct Case {
    std::string line;
    std::string problem_part;
  };
  const Case cases[] = {
      {"m,node=n,node=x v=1", "tag \"node\" appears twice"},
      {"m,node=n,t=1,node=n v=1", "tag \"node\" appears twice"},
      {"m,host=a,host=b v=1", "tag \"host\" appears twice"},
      {"m,node=n,host=a,host=b v=1", "label \"host\" appears twice"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    auto r = decode_lp(c.line, "q1");
    EXPECT_TRUE(one_problem(r.problems, "line 1", c.problem_part));
  }
}

TEST(DecodeLineProtocol, MetricLongerThanTheLimitIsAProblem) {
  auto r = decode_lp("m,node=n " + std::string(199, 'f') + "=1");
  EXPECT_TRUE(one_problem(r.problems, "line 1", "metric name"));
  r = decode_lp("m,node=n " + std::string(198, 'f') + "=1");
  EXPECT_TRUE(r.problems.empty());
}

TEST(DecodeLineProtocol, GrammarErrorsNameTheirLines) {
  auto r = decode_lp("ok,node=n v=1\nbad\n\nm,node=n v=\"open\nx\",w=zz\nok,node=n v=2\n");
  EXPECT_EQ(r.problems.size(), 2u);
  EXPECT_EQ(r.problems.at(0).rfind("line 2: missing fields", 0), 0u) << r.problems.at(0);
  EXPECT_EQ(r.problems.at(1).rfind("line 4: invalid field value", 0), 0u) << r.problems.at(1);
}

TEST(DecodeLineProtocol, ProblemsStopAt100) {
  std::string body;
  for (int i = 0; i < 150; ++i)
    body += "bad\n";
  Problems problems;
  LineProtocolStats stats;
  decode_line_protocol(body, Precision::kNanoseconds, "n", kBounds, problems, stats);
  EXPECT_EQ(problems.count, kMaxProblems);
  EXPECT_EQ(problems.details.size(), kMaxProblems);
  EXPECT_EQ(problems.details.back()["line"], 100);
}

TEST(DecodeLineProtocol, RepeatedSeriesAreStoredOnce) {
  Problems problems;
  LineProtocolStats stats;
  SampleBatch b =
      decode_line_protocol("m,node=n,b=1,a=2 v=1 1\nm,a=2,node=n,b=1 v=2 2\n",
                           Precision::kNanoseconds, "", {0, kFuture, kRetention}, problems, stats);
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(b.series.size(), 1u);
  EXPECT_EQ(b.size(), 2u);
}

// JSON bodies -----------------------------------------------------------------------------

struct JsonResult {
  std::vector<std::string> samples;
  std::vector<std::string> problems;
};

JsonResult decode_json(std::string_view body) {
  Problems problems;
  SampleBatch b = decode_metrics_json(body, kBounds, problems);
  return {describe(b), describe(problems)};
}

TEST(DecodeMetricsJson, TopLevelNodeAndTsAreDefaults) {
  auto r = decode_json(R"({"node": "gpu-07", "ts": "2026-11-24T09:59:00Z",
      "samples": [{"metric": "gpu.temp_c", "value": 71.5, "labels": {"gpu": "0"}},
                  {"metric": "llm.tokens_per_s", "value": 812, "ts": 1795514400.25},
                  {"metric": "x", "value": -1e-3, "node": "other", "ts": "2026-11-24T11:59:30+02:00"}],
      "metrics": {"system.cpu_util": 12.5}})");
  EXPECT_TRUE(r.problems.empty()) << testing::PrintToString(r.problems);
  EXPECT_EQ(r.samples, (std::vector<std::string>{
                           "gpu.temp_c|gpu-07|gpu=0|1795514340000|71.5",
                           "llm.tokens_per_s|gpu-07||1795514400250|812",
                           "x|other||1795514370000|-0.001",
                           "system.cpu_util|gpu-07||1795514340000|12.5",
                       }));
}

TEST(DecodeMetricsJson, TsDefaultsToNowAndMetricsShorthandHasNoLabels) {
  auto r = decode_json(R"({"node": "n", "metrics": {"a.b": 1, "c": 2.5}})");
  EXPECT_TRUE(r.problems.empty()) << testing::PrintToString(r.problems);
  EXPECT_EQ(r.samples, (std::vector<std::string>{fmt::format("a.b|n||{}|1", kNow),
                                                 fmt::format("c|n||{}|2.5", kNow)}));
}

TEST(DecodeMetricsJson, ProblemsNameTheFieldAtFault) {
  struct Case {
    std::string body;
    std::string field;
    std::string part;
  };
  const Case cases[] = {
      {"", "body", "not valid JSON"},
      {"{", "body", "not valid JSON"},
      {"[1]", "body", "must be a JSON object"},
      {R"({"node": "n"})", "body", "nothing to store"},
      {R"({"node": "n", "metrics": {}, "extra": 1})", "extra", "unknown field"},
      {R"({"node": 5, "samples": []})", "node", "must be a string"},
      {R"({"node": "a b", "samples": []})", "node", "node id"},
      {R"({"node": "n", "ts": true, "samples": []})", "ts", "RFC 3339 string or unix seconds"},
      {R"({"node": "n", "ts": "yesterday", "samples": []})", "ts", "RFC 3339"},
      {R"({"node": "n", "ts": 0, "samples": []})", "ts", "older than the raw retention"},
      {R"({"node": "n", "ts": "2030-01-01T00:00:00Z", "samples": []})", "ts", "in the future"},
      {R"({"node": "n", "samples": {}})", "samples", "must be an array"},
      {R"({"node": "n", "samples": [1]})", "samples[0]", "must be an object"},
      {R"({"node": "n", "samples": [{"value": 1}]})", "samples[0].metric", "required"},
      {R"({"node": "n", "samples": [{"metric": 1, "value": 1}]})", "samples[0].metric",
       "required, a string"},
      {R"({"node": "n", "samples": [{"metric": "9x", "value": 1}]})", "samples[0].metric",
       "metric name \"9x\""},
      {R"({"node": "n", "samples": [{"metric": "m"}]})", "samples[0].value", "finite number"},
      {R"({"node": "n", "samples": [{"metric": "m", "value": "1"}]})", "samples[0].value",
       "finite number"},
      {R"({"node": "n", "samples": [{"metric": "m", "value": null}]})", "samples[0].value",
       "finite number"},
      {R"({"node": "n", "samples": [{"metric": "m", "value": true}]})", "samples[0].value",
       "finite number"},
      {R"({"node": "n", "samples": [{"metric": "m", "value": 1, "unit": "C"}]})", "samples[0].unit",
       "unknown field"},
      {R"({"samples": [{"metric": "m", "value": 1}]})", "samples[0].node", "required"},
      {R"({"samples": [{"metric": "m", "value": 1, "node": 7}]})", "samples[0].node",
       "must be a string"},
      {R"({"samples": [{"metric": "m", "value": 1, "node": "_x"}]})", "samples[0].node", "node id"},
      {R"({"node": "n", "samples": [{"metric": "m", "value": 1, "ts": [1]}]})", "samples[0].ts",
       "RFC 3339"},
      {R"({"node": "n", "samples": [{"metric": "m", "value": 1, "ts": 1e300}]})", "samples[0].ts",
       "RFC 3339"},
      {R"({"node": "n", "samples": [{"metric": "m", "value": 1, "ts": "2026-02-30T00:00:00Z"}]})",
       "samples[0].ts", "RFC 3339"},
      {R"({"node": "n", "samples": [{"metric": "m", "value": 1, "ts": 1795600000}]})",
       "samples[0].ts", "in the future"},
      {R"({"node": "n", "samples": [{"metric": "m", "value": 1, "labels": ["a"]}]})",
       "samples[0].labels", "must be an object"},
      {R"({"node": "n", "samples": [{"metric": "m", "value": 1, "labels": {"gpu": 0}}]})",
       "samples[0].labels.gpu", "must be a string"},
      {R"({"node": "n", "samples": [{"metric": "m", "value": 1, "labels": {"a-b": "x"}}]})",
       "samples[0].labels", "label key \"a-b\""},
      {R"({"node": "n", "samples": [{"metric": "m", "value": 1, "labels": {"a": "\ud800"}}]})",
       "body", "not valid JSON"},
      {R"({"metrics": {"a": 1}})", "node", "required with `metrics`"},
      {R"({"node": "n", "metrics": [1]})", "metrics", "must be an object"},
      {R"({"node": "n", "metrics": {"a": "1"}})", "metrics.a", "finite number"},
      {R"({"node": "n", "metrics": {"a b": 1}})", "metrics.a b", "metric name"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body);
    auto r = decode_json(c.body);
    EXPECT_TRUE(one_problem(r.problems, c.field, c.part));
  }
}

TEST(DecodeMetricsJson, LabelsAreLimitedInNumberAndSize) {
  auto body = [](int n_labels, size_t value_bytes) {
    nlohmann::json labels = nlohmann::json::object();
    for (int i = 0; i < n_labels; ++i)
      labels[fmt::format("k{:02}", i)] = std::string(value_bytes, 'v');
    return nlohmann::json{{"node", "n"},
                          {"samples", {{{"metric", "m"}, {"value", 1}, {"labels", labels}}}}}
        .dump();
  };
  auto r = decode_json(body(32, 1024));
  EXPECT_TRUE(r.problems.empty()) << testing::PrintToString(r.problems);
  EXPECT_EQ(r.samples.size(), 1u);
  r = decode_json(body(33, 1));
  EXPECT_TRUE(one_problem(r.problems, "samples[0].labels", "33 labels; at most 32"));
  r = decode_json(body(1, 1025));
  EXPECT_TRUE(one_problem(r.problems, "samples[0].labels", "at most 1024 bytes"));
}

TEST(DecodeMetricsJson, NumbersBeyondDoubleAreRefusedAsInvalidJson) {
  // nlohmann reports a number overflow rather than producing inf, so no non-finite
  // value reaches the batch.
  for (const char* v : {"1e400", "-1e400"}) {
    SCOPED_TRACE(v);
    auto r = decode_json(
        fmt::format(R"({{"node": "n", "samples": [{{"metric": "m", "value": {}}}]}})", v));
    EXPECT_TRUE(one_problem(r.problems, "body", "not valid JSON"));
  }
  for (const char* v : {"NaN", "Infinity", "nan"}) {
    SCOPED_TRACE(v);
    auto r = decode_json(fmt::format(R"({{"node": "n", "metrics": {{"m": {}}}}})", v));
    EXPECT_TRUE(one_problem(r.problems, "body", "not valid JSON"));
  }
  auto r = decode_json(
      R"({"node": "n", "metrics": {"big": 1.7976931348623157e308, "u": 18446744073709551615}})");
  EXPECT_TRUE(r.problems.empty()) << testing::PrintToString(r.problems);
  EXPECT_EQ(r.samples.size(), 2u);
}

TEST(DecodeMetricsJson, EachBadSampleIsNamedByItsIndex) {
  auto r = decode_json(R"({"node": "n", "samples": [
      {"metric": "a", "value": 1}, {"metric": "b", "value": 2}, {"metric": "c", "value": 3},
      {"metric": "d", "value": "x"}, {"metric": "e", "value": 5, "labels": {"k": 1}}]})");
  EXPECT_EQ(r.problems, (std::vector<std::string>{
                            "samples[3].value: required, a finite number",
                            "samples[4].labels.k: must be a string",
                        }));
}

TEST(DecodeMetricsJson, ProblemsStopAt100) {
  std::string body = R"({"node": "n", "samples": [)";
  for (int i = 0; i < 150; ++i)
    body += std::string(i ? "," : "") + R"({"metric": "m"})";
  body += "]}";
  Problems problems;
  decode_metrics_json(body, kBounds, problems);
  EXPECT_EQ(problems.count, kMaxProblems);
  EXPECT_EQ(problems.details.size(), kMaxProblems);
  EXPECT_EQ(problems.details.back()["field"], "samples[99].value");
}

}  // namespace
}  // namespace metricsd::api
