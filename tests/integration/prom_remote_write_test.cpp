// POST /api/v1/prom/write end to end: Prometheus remote write 1.0 bodies (snappy-compressed
// protobuf WriteRequests built here with the generated classes) against a real daemon, what
// was stored read back from its embedded PostgreSQL; how __name__, the node label
// (ingest.prometheus_node_label) and the other labels map; stale markers, series and
// samples left out and their counters; bodies refused whole (status and count); auth. Then
// the Debian `prometheus` server itself scraping a fixed exposition the test serves and
// remote-writing it to the daemon.
#include <gtest/gtest.h>
#include <snappy.h>

#include <fmt/format.h>
#include <algorithm>
#include <bit>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/prom_remote_write.pb.h"
#include "ingest_support.hpp"
#include "tool_process.hpp"
#include "webhook_receiver.hpp"

namespace metricsd::test {
namespace {

using nlohmann::json;
using Labels = std::vector<std::pair<std::string, std::string>>;

const double kStaleNaN = std::bit_cast<double>(uint64_t{0x7ff0000000000002});

struct Series {
  Labels labels;
  std::vector<std::pair<int64_t, double>> samples;  // (ms, value)
};

std::string write_request(const std::vector<Series>& series) {
  metricsd::promrw::WriteRequest req;
  for (const auto& s : series) {
    auto* ts = req.add_timeseries();
    for (const auto& [k, v] : s.labels) {
      auto* l = ts->add_labels();
      l->set_name(k);
      l->set_value(v);
    }
    for (const auto& [t, v] : s.samples) {
      auto* p = ts->add_samples();
      p->set_timestamp(t);
      p->set_value(v);
    }
  }
  return req.SerializeAsString();
}

std::string snappy_block(const std::string& raw) {
  std::string out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

Headers remote_write_headers() {
  return {{"Content-Type", "application/x-protobuf"},
          {"Content-Encoding", "snappy"},
          {"X-Prometheus-Remote-Write-Version", "0.1.0"}};
}

std::string rejected_invalid() {
  return R"(metricsd_ingest_rejected_requests_total{reason="invalid"})";
}

std::string skipped(const std::string& reason) {
  return fmt::format(R"(metricsd_ingest_prometheus_samples_skipped_total{{reason="{}"}})", reason);
}

// The `field` of each left-out series or sample a 200 answer lists.
std::vector<std::string> refused_places(const HttpResult& r) {
  std::vector<std::string> out;
  auto body = json::parse(r.body, nullptr, false);
  if (!body.is_object() || !body.contains("details")) return out;
  for (const auto& d : body["details"])
    out.push_back(d.value("field", ""));
  return out;
}

class PromRemoteWrite : public IngestBase {
 protected:
  static void SetUpTestSuite() { start({}); }
  static void TearDownTestSuite() { stop(); }

  HttpResult send(const std::vector<Series>& series, const std::string& target = kPath,
                  Headers headers = remote_write_headers()) {
    return post(target, snappy_block(write_request(series)), headers);
  }
  HttpResult send_body(const std::string& body, Headers headers = remote_write_headers()) {
    return post(kPath, body, headers);
  }
  std::string token(const std::string& role, const std::string& node = "") {
    json body = {{"name", "prw-" + role + node}, {"role", role}};
    if (!node.empty()) body["node"] = node;
    auto r = http_request(port(), "POST", "/api/v1/tokens", body.dump(),
                          {{"Content-Type", "application/json"}});
    EXPECT_EQ(r.status, 201) << r.body;
    return json::parse(r.body, nullptr, false).value("token", "");
  }
  int64_t ms(int64_t ago_s) const { return (now_s_ - ago_s) * 1000; }

  static constexpr const char* kPath = "/api/v1/prom/write";
};

TEST_F(PromRemoteWrite, SamplesAreStoredExactlyWithInstanceAsNode) {
  double before = scrape(port(), R"(metricsd_ingest_samples_total{format="prometheus"})");
  auto r = send({{{{"__name__", "node_cpu_seconds_total"},
                   {"cpu", "0"},
                   {"instance", "prw-1:9100"},
                   {"job", "node"},
                   {"mode", "idle"}},
                  {{ms(30), 1234.5}, {ms(15), 1249.75}}},
                 {{{"__name__", "up"}, {"instance", "prw-1:9100"}, {"job", "node"}}, {{ms(15), 1}}},
                 {{{"__name__", "job:rate5m:sum"}, {"instance", "prw-1:9100"}, {"empty", ""}},
                  {{ms(15), -0.5}}}});
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_TRUE(r.body.empty());
  const json cpu = {{"cpu", "0"}, {"job", "node"}, {"mode", "idle"}};
  EXPECT_EQ(db().samples("prw-1:9100"),
            sorted({row("node_cpu_seconds_total", "prw-1:9100", cpu, 1234.5, ms(30)),
                    row("node_cpu_seconds_total", "prw-1:9100", cpu, 1249.75, ms(15)),
                    row("up", "prw-1:9100", {{"job", "node"}}, 1, ms(15)),
                    // A label with an empty value is no label, as in Prometheus.
                    row("job:rate5m:sum", "prw-1:9100", json::object(), -0.5, ms(15))}));
  EXPECT_EQ(scrape(port(), R"(metricsd_ingest_samples_total{format="prometheus"})") - before, 4);
}

TEST_F(PromRemoteWrite, SeriesWithoutTheNodeLabelTakeNodeParameterOrAreRefused) {
  double no_node = scrape(port(), skipped("no_node"));
  Series aggregated{{{"__name__", "cluster_load"}, {"job", "node"}}, {{ms(20), 3}, {ms(10), 4}}};
  Series with_instance{{{"__name__", "load1"}, {"instance", "prw-2b"}}, {{ms(10), 0.5}}};
  auto r = send({aggregated, with_instance}, std::string(kPath) + "?node=prw-2");
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_EQ(db().samples("prw-2"),
            sorted({row("cluster_load", "prw-2", {{"job", "node"}}, 3, ms(20)),
                    row("cluster_load", "prw-2", {{"job", "node"}}, 4, ms(10))}));
  EXPECT_EQ(db().samples("prw-2b"),
            std::vector<std::string>{row("load1", "prw-2b", json::object(), 0.5, ms(10))});
  // Without ?node= the series is left out, the rest stored, and the answer says so.
  aggregated.samples = {{ms(5), 5}, {ms(4), 6}};
  with_instance.samples = {{ms(5), 0.75}};
  r = send({aggregated, with_instance});
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = json::parse(r.body);
  EXPECT_EQ(body["accepted"], 1);
  EXPECT_EQ(body["refused"], 2);
  ASSERT_EQ(body["details"].size(), 1u) << r.body;
  EXPECT_EQ(body["details"][0]["field"], "timeseries[0] (cluster_load)");
  EXPECT_NE(body["details"][0]["message"].get<std::string>().find("\"instance\""),
            std::string::npos);
  EXPECT_EQ(db().samples("prw-2b").size(), 2u);
  EXPECT_EQ(db().samples("prw-2").size(), 2u);
  EXPECT_EQ(scrape(port(), skipped("no_node")) - no_node, 2);
  // A bad ?node= can never succeed: the whole request is refused.
  EXPECT_EQ(send({aggregated}, std::string(kPath) + "?node=bad%20node").status, 400);
}

TEST_F(PromRemoteWrite, StaleMarkersAreSkippedAndCounted) {
  double stale = scrape(port(), skipped("stale_marker"));
  double not_finite = scrape(port(), skipped("not_finite"));
  auto r = send({{{{"__name__", "temp"}, {"instance", "prw-3"}},
                  {{ms(30), 20}, {ms(20), kStaleNaN}, {ms(10), 21}}},
                 // Only stale markers: the series is not even created.
                 {{{"__name__", "gone"}, {"instance", "prw-3"}}, {{ms(10), kStaleNaN}}}});
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_EQ(db().samples("prw-3"), sorted({row("temp", "prw-3", json::object(), 20, ms(30)),
                                           row("temp", "prw-3", json::object(), 21, ms(10))}));
  EXPECT_EQ(db().series("prw-3"), 1);
  EXPECT_EQ(scrape(port(), skipped("stale_marker")) - stale, 2);
  // Any other NaN or an infinity is no value metricsd stores: left out, named, counted.
  r = send({{{{"__name__", "temp"}, {"instance", "prw-3"}},
             {{ms(9), std::numeric_limits<double>::quiet_NaN()},
              {ms(8), std::numeric_limits<double>::infinity()},
              {ms(7), 22}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(refused_places(r), (std::vector<std::string>{"timeseries[0] (temp).samples[0]",
                                                         "timeseries[0] (temp).samples[1]"}));
  EXPECT_EQ(db().stored("prw-3"), 3);
  EXPECT_EQ(scrape(port(), skipped("not_finite")) - not_finite, 2);
}

TEST_F(PromRemoteWrite, NamesOutsideTheRulesRefuseTheirSeriesOnly) {
  double metric = scrape(port(), skipped("invalid_metric"));
  double labels = scrape(port(), skipped("invalid_labels"));
  double node = scrape(port(), skipped("invalid_node"));
  std::string long_key(65, 'k');
  auto r =
      send({{{{"__name__", ":leading_colon"}, {"instance", "prw-4"}}, {{ms(5), 1}}},
            {{{"instance", "prw-4"}}, {{ms(5), 1}}},  // no __name__
            {{{"__name__", "ok_metric"}, {"instance", "prw-4"}, {long_key, "v"}},
             {{ms(5), 1}, {ms(4), 2}}},
            {{{"__name__", "ok_metric"}, {"instance", "[::1]:9090"}}, {{ms(5), 1}}},
            {{{"__name__", "ok_metric"}, {"instance", "prw-4"}, {"le", "+Inf"}}, {{ms(5), 7}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = json::parse(r.body);
  EXPECT_EQ(body["accepted"], 1);
  EXPECT_EQ(body["refused"], 5);
  EXPECT_EQ(refused_places(r),
            (std::vector<std::string>{"timeseries[0]", "timeseries[1]", "timeseries[2] (ok_metric)",
                                      "timeseries[3] (ok_metric)"}));
  EXPECT_EQ(db().samples("prw-4"),
            std::vector<std::string>{row("ok_metric", "prw-4", {{"le", "+Inf"}}, 7, ms(5))});
  EXPECT_EQ(scrape(port(), skipped("invalid_metric")) - metric, 2);
  EXPECT_EQ(scrape(port(), skipped("invalid_labels")) - labels, 2);
  EXPECT_EQ(scrape(port(), skipped("invalid_node")) - node, 1);
}

TEST_F(PromRemoteWrite, SamplesOutsideTheIngestBoundsAreLeftOut) {
  double bounds = scrape(port(), skipped("out_of_bounds"));
  auto r = send({{{{"__name__", "late"}, {"instance", "prw-5"}},
                  {{ms(8 * 86'400), 1}, {ms(60), 2}, {ms(-3600), 3}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(refused_places(r), (std::vector<std::string>{"timeseries[0] (late).samples[0]",
                                                         "timeseries[0] (late).samples[2]"}));
  EXPECT_EQ(db().samples("prw-5"),
            std::vector<std::string>{row("late", "prw-5", json::object(), 2, ms(60))});
  EXPECT_EQ(scrape(port(), skipped("out_of_bounds")) - bounds, 2);
}

TEST_F(PromRemoteWrite, BodiesThatAreNoSnappyWriteRequestAreRefusedAndCounted) {
  const std::string good =
      snappy_block(write_request({{{{"__name__", "x"}, {"instance", "prw-6"}}, {{ms(5), 1}}}}));
  double invalid = scrape(port(), rejected_invalid());
  struct Case {
    std::string what, body;
    Headers headers;
    int status;
  };
  auto with = [](std::string name, std::string value) {
    Headers h = remote_write_headers();
    for (auto& [k, v] : h)
      if (k == name) v = std::move(value);
    return h;
  };
  // A snappy block whose header announces 1 GiB: refused from the header, before allocating.
  std::string huge = "\x80\x80\x80\x80\x04";
  huge += std::string(64, 'x');
  std::vector<Case> cases = {
      {"not snappy", "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", remote_write_headers(), 400},
      {"truncated snappy", good.substr(0, good.size() - 3), remote_write_headers(), 400},
      {"snappy, not protobuf", snappy_block("\x0a\xff\xff\xff\xff\x0f"), remote_write_headers(),
       400},
      {"uncompressed protobuf", write_request({{{{"__name__", "x"}}, {{0, 1}}}}),
       remote_write_headers(), 400},
      {"decompressed size over the body limit", huge, remote_write_headers(), 413},
      {"JSON content type", good, with("Content-Type", "application/json"), 415},
      {"gzip encoding", good, with("Content-Encoding", "gzip"), 415},
      {"remote write 2.0", good,
       with("Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request"), 415},
      {"version 2.0.0", good, with("X-Prometheus-Remote-Write-Version", "2.0.0"), 415},
      {"no encoding", good, {{"Content-Type", "application/x-protobuf"}}, 415},
  };
  for (const auto& c : cases) {
    auto r = send_body(c.body, c.headers);
    EXPECT_EQ(r.status, c.status) << c.what << ": " << r.body;
    EXPECT_FALSE(error_message(r).empty()) << c.what << ": " << r.body;
  }
  EXPECT_EQ(scrape(port(), rejected_invalid()) - invalid, static_cast<double>(cases.size()));
  EXPECT_EQ(db().stored("prw-6"), 0);
  // The parameters Prometheus may add are fine.
  auto r = send_body(good,
                     with("Content-Type", "application/x-protobuf; proto=prometheus.WriteRequest"));
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_EQ(db().stored("prw-6"), 1);
}

TEST_F(PromRemoteWrite, NeedsAWriteToken) {
  std::vector<Series> batch = {{{{"__name__", "x"}, {"instance", "prw-7"}}, {{ms(5), 1}}}};
  auto headers = [](const std::string& authorization) {
    Headers h = remote_write_headers();
    h.emplace_back("Authorization", authorization);
    return h;
  };
  EXPECT_EQ(send(batch, kPath, headers("")).status, 401);
  EXPECT_EQ(send(batch, kPath, headers("Bearer not-a-token")).status, 401);
  EXPECT_EQ(send(batch, kPath, headers("Bearer " + token("viewer"))).status, 403);
  // An agent token bound to another node may not write this one's samples.
  EXPECT_EQ(send(batch, kPath, headers("Bearer " + token("agent", "prw-other"))).status, 403);
  EXPECT_EQ(db().stored("prw-7"), 0);
  EXPECT_EQ(send(batch, kPath, headers("Bearer " + token("agent", "prw-7"))).status, 204);
  EXPECT_EQ(db().stored("prw-7"), 1);
}

// ingest.prometheus_node_label picks another label; `instance` is then an ordinary label.
TEST(PromRemoteWriteSetting, NodeLabelIsConfigurable) {
  TempDir dir;
  Daemon d(dir.path(), {"--ingest-prometheus-node-label", "host"});
  ASSERT_TRUE(d.wait_ready()) << d.log();
  int64_t t = (wall_ms() / 1000 - 10) * 1000;
  auto r = http_request(
      d.port(), "POST", "/api/v1/prom/write",
      snappy_block(write_request(
          {{{{"__name__", "disk_free"}, {"host", "prw-8"}, {"instance", "10.0.0.8:9100"}},
            {{t, 42}}}})),
      remote_write_headers());
  EXPECT_EQ(r.status, 204) << r.body;
  Db db(dir.path());
  EXPECT_EQ(
      db.samples("prw-8"),
      std::vector<std::string>{row("disk_free", "prw-8", {{"instance", "10.0.0.8:9100"}}, 42, t)});
  // A name that is no label name is refused at start.
  TempDir bad_dir;
  Daemon bad(bad_dir.path(), {"--ingest-prometheus-node-label", "bad-label"});
  auto code = bad.wait_exit(std::chrono::seconds(30));
  ASSERT_TRUE(code.has_value()) << "still running with an invalid node label";
  EXPECT_NE(*code, 0);
  EXPECT_NE(bad.log().find("ingest.prometheus_node_label"), std::string::npos) << bad.log();
}

// The Debian `prometheus` server scrapes a fixed exposition served here every second and
// remote-writes it to the daemon with a write token; the daemon ends up holding exactly
// those values, under the scrape target's instance as node.
TEST(PromServerRemoteWrite, PrometheusServerWritesWhatItScrapes) {
  const char* kPrometheus = "/usr/bin/prometheus";
  if (!std::filesystem::exists(kPrometheus))
    GTEST_FAIL() << kPrometheus << " is missing: scripts/deps.sh installs the prometheus package";
  TempDir dir;
  Daemon d(dir.path());
  ASSERT_TRUE(d.wait_ready()) << d.log();
  auto t =
      http_request(d.port(), "POST", "/api/v1/tokens", R"({"name":"prometheus","role":"agent"})",
                   {{"Content-Type", "application/json"}});
  ASSERT_EQ(t.status, 201) << t.body;
  const std::string token = json::parse(t.body).value("token", "");

  WebhookReceiver target({.reply_headers = {{"Content-Type", "text/plain; version=0.0.4"}},
                          .reply_body = "# TYPE fixture_temperature_celsius gauge\n"
                                        "fixture_temperature_celsius{sensor=\"a\"} 21.5\n"
                                        "fixture_temperature_celsius{sensor=\"b\"} -3.25\n"
                                        "# TYPE fixture_requests_total counter\n"
                                        "fixture_requests_total{code=\"200\"} 1027\n"
                                        "# TYPE fixture_ratio gauge\n"
                                        "fixture_ratio 0.125\n"});
  const std::string node = fmt::format("127.0.0.1:{}", target.port());
  const std::filesystem::path config = dir.path() / "prometheus.yml";
  {
    std::ofstream f(config);
    f << fmt::format(R"(global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: fixture
    metrics_path: /metrics
    static_configs:
      - targets: ["{}"]
remote_write:
  - url: http://127.0.0.1:{}/api/v1/prom/write
    authorization:
      credentials: {}
    queue_config:
      batch_send_deadline: 1s
      min_backoff: 100ms
      max_backoff: 1s
)",
                     node, d.port(), token);
  }
  const int web_port = free_port();
  const int64_t started_ms = wall_ms();
  // Killed (SIGKILL) by its destructor however the test ends.
  ToolProcess prometheus(
      kPrometheus,
      {"--config.file=" + config.string(), "--storage.tsdb.path=" + (dir.path() / "tsdb").string(),
       fmt::format("--web.listen-address=127.0.0.1:{}", web_port), "--log.level=warn"});
  const json job = {{"job", "fixture"}};
  auto labelled = [&](const json& extra) {
    json l = job;
    l.update(extra);
    return l;
  };
  const std::vector<std::string> expected =
      sorted({row("fixture_temperature_celsius", node, labelled({{"sensor", "a"}}), 21.5),
              row("fixture_temperature_celsius", node, labelled({{"sensor", "b"}}), -3.25),
              row("fixture_requests_total", node, labelled({{"code", "200"}}), 1027),
              row("fixture_ratio", node, job, 0.125), row("up", node, job, 1)});
  Db db(dir.path());
  std::vector<std::string> seen;
  // Prometheus starts, scrapes each second and sends within batch_send_deadline (1 s).
  bool arrived = eventually(
      [&] {
        auto rows = db.samples(node, false);
        seen.clear();
        for (const auto& r : rows)
          if (seen.empty() || seen.back() != r) seen.push_back(r);
        return std::includes(seen.begin(), seen.end(), expected.begin(), expected.end());
      },
      std::chrono::seconds(60));
  std::string held;
  for (const auto& r : seen)
    held += r + "\n";
  ASSERT_TRUE(arrived) << "the daemon holds:\n"
                       << held << "prometheus:\n"
                       << prometheus.log() << "\ndaemon:\n"
                       << d.log();
  // Every stored value of the served series is the one served, at a time of this run.
  for (const auto& r : db.samples(node, false)) {
    if (r.starts_with("fixture_")) {
      EXPECT_TRUE(std::binary_search(expected.begin(), expected.end(), r)) << r;
    }
  }
  for (int64_t ts : db.times_ms(node)) {
    EXPECT_GE(ts, started_ms - 1000);
    EXPECT_LE(ts, wall_ms());
  }
  EXPECT_EQ(prometheus.count_in_log("non-recoverable"), 0u) << prometheus.log();
  EXPECT_GT(metric_value(d.port(), R"(metricsd_ingest_samples_total{format="prometheus"})", 0), 0);
}

}  // namespace
}  // namespace metricsd::test
