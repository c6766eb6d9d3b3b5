// Prometheus metrics: exact text exposition (format 0.0.4) of counters, gauges and
// histograms, label and HELP escaping, and updates from several threads.
#include "core/prom.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>

namespace metricsd::prom {
namespace {

TEST(Prom, CounterRendersHelpTypeAndSample) {
  Registry r;
  auto& c = r.counter("requests_total", "Requests served.").get();
  c.inc();
  c.inc(2);
  EXPECT_EQ(c.value(), 3);
  EXPECT_EQ(r.render(),
            "# HELP requests_total Requests served.\n"
            "# TYPE requests_total counter\n"
            "requests_total 3\n");
}

TEST(Prom, LabelledChildrenRenderOnePerCombinationSortedByValues) {
  Registry r;
  auto& f = r.counter("http_requests_total", "HTTP requests.", {"method", "code"});
  f.with({"POST", "503"}).inc(5);
  f.with({"GET", "200"}).inc();
  f.with({"GET", "200"}).inc();
  EXPECT_EQ(r.render(),
            "# HELP http_requests_total HTTP requests.\n"
            "# TYPE http_requests_total counter\n"
            "http_requests_total{method=\"GET\",code=\"200\"} 2\n"
            "http_requests_total{method=\"POST\",code=\"503\"} 5\n");
}

TEST(Prom, FamilyWithoutChildrenRendersOnlyHelpAndType) {
  Registry r;
  r.counter("errors_total", "Errors.", {"kind"});
  EXPECT_EQ(r.render(), "# HELP errors_total Errors.\n# TYPE errors_total counter\n");
}

TEST(Prom, GaugeSetAndAdd) {
  Registry r;
  auto& g = r.gauge("queue_depth", "Samples waiting.").get();
  g.set(5);
  g.add(-2.5);
  EXPECT_EQ(g.value(), 2.5);
  EXPECT_EQ(r.render(),
            "# HELP queue_depth Samples waiting.\n"
            "# TYPE queue_depth gauge\n"
            "queue_depth 2.5\n");
}

TEST(Prom, GaugeFunctionIsReadAtEachRender) {
  Registry r;
  double v = 1;
  r.gauge_fn("open_connections", "Open connections.", [&] { return v; });
  const std::string head =
      "# HELP open_connections Open connections.\n"
      "# TYPE open_connections gauge\n";
  EXPECT_EQ(r.render(), head + "open_connections 1\n");
  v = 42;
  EXPECT_EQ(r.render(), head + "open_connections 42\n");
}

TEST(Prom, SpecialAndFractionalValuesRender) {
  struct Case {
    double value;
    std::string text;
  };
  const Case cases[] = {
      {0, "0"},
      {-3, "-3"},
      {0.25, "0.25"},
      {1e-05, "1e-05"},
      {std::numeric_limits<double>::infinity(), "+Inf"},
      {-std::numeric_limits<double>::infinity(), "-Inf"},
      {std::nan(""), "NaN"},
  };
  for (const auto& c : cases) {
    Registry r;
    r.gauge("g", "G.").get().set(c.value);
    EXPECT_EQ(r.render(), "# HELP g G.\n# TYPE g gauge\ng " + c.text + "\n");
  }
}

TEST(Prom, EscapeLabelValue) {
  struct Case {
    std::string in, out;
  };
  const Case cases[] = {
      {"", ""},
      {"plain value", "plain value"},
      {"C:\\dir", "C:\\\\dir"},
      {"say \"hi\"", "say \\\"hi\\\""},
      {"two\nlines", "two\\nlines"},
      {"\\\"\n", "\\\\\\\"\\n"},
      {"tab\tand ünïcode", "tab\tand ünïcode"},
  };
  for (const auto& c : cases)
    EXPECT_EQ(escape_label_value(c.in), c.out) << c.in;
}

TEST(Prom, LabelValuesAreEscapedInOutput) {
  Registry r;
  r.gauge("file_size_bytes", "Size.", {"path"}).with({"C:\\x \"y\"\nz"}).set(1);
  EXPECT_EQ(r.render(),
            "# HELP file_size_bytes Size.\n"
            "# TYPE file_size_bytes gauge\n"
            "file_size_bytes{path=\"C:\\\\x \\\"y\\\"\\nz\"} 1\n");
}

TEST(Prom, HelpEscapesBackslashAndNewlineButNotQuote) {
  Registry r;
  r.counter("c_total", "a \\ b\n\"c\"");
  EXPECT_EQ(r.render(), "# HELP c_total a \\\\ b\\n\"c\"\n# TYPE c_total counter\n");
}

TEST(Prom, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry r;
  auto& h =
      r.histogram("latency_seconds", "Request latency.", {"route"}, {0.25, 1, 2}).with({"/api"});
  // Values on a bound fall into that bound's bucket (le = less or equal).
  for (double v : {0.125, 0.25, 0.5, 1.0, 4.0})
    h.observe(v);
  EXPECT_EQ(h.cumulative_counts(), (std::vector<uint64_t>{2, 4, 4, 5}));
  EXPECT_EQ(r.render(),
            "# HELP latency_seconds Request latency.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{route=\"/api\",le=\"0.25\"} 2\n"
            "latency_seconds_bucket{route=\"/api\",le=\"1\"} 4\n"
            "latency_seconds_bucket{route=\"/api\",le=\"2\"} 4\n"
            "latency_seconds_bucket{route=\"/api\",le=\"+Inf\"} 5\n"
            "latency_seconds_sum{route=\"/api\"} 5.875\n"
            "latency_seconds_count{route=\"/api\"} 5\n");
}

TEST(Prom, UnlabelledEmptyHistogramRendersZeroes) {
  Registry r;
  r.histogram("batch_size", "Batch size.", {}, {10, 100}).get();
  EXPECT_EQ(r.render(),
            "# HELP batch_size Batch size.\n"
            "# TYPE batch_size histogram\n"
            "batch_size_bucket{le=\"10\"} 0\n"
            "batch_size_bucket{le=\"100\"} 0\n"
            "batch_size_bucket{le=\"+Inf\"} 0\n"
            "batch_size_sum 0\n"
            "batch_size_count 0\n");
}

TEST(Prom, LatencyBoundsAscendFrom100MicrosecondsTo10Seconds) {
  auto b = latency_bounds_seconds();
  ASSERT_FALSE(b.empty());
  EXPECT_EQ(b.front(), 0.0001);
  EXPECT_EQ(b.back(), 10.0);
  for (size_t i = 1; i < b.size(); ++i)
    EXPECT_LT(b[i - 1], b[i]);
  Registry r;
  r.histogram("h", "H.", {}, b).get();
  EXPECT_NE(r.render().find("h_bucket{le=\"0.0001\"} 0\n"), std::string::npos);
}

TEST(Prom, ConcurrentUpdatesFromSeveralThreadsAddUp) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20'000;
  Registry r;
  auto& counters = r.counter("ops_total", "Ops.", {"kind"});
  auto& gauges = r.gauge("level", "Level.");
  auto& histograms = r.histogram("size", "Size.", {}, {0.5, 1.5});
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        // with() on every call also races the creation of the child.
        counters.with({"write"}).inc();
        gauges.get().add(2);
        histograms.get().observe(1);
      }
    });
  }
  for (auto& th : threads)
    th.join();
  constexpr double kTotal = double{kThreads} * kPerThread;
  EXPECT_EQ(counters.with({"write"}).value(), kTotal);
  EXPECT_EQ(gauges.get().value(), 2 * kTotal);
  EXPECT_EQ(histograms.get().sum(), kTotal);
  EXPECT_EQ(histograms.get().cumulative_counts(),
            (std::vector<uint64_t>{0, kThreads * kPerThread, kThreads * kPerThread}));
  EXPECT_NE(r.render().find("ops_total{kind=\"write\"} 160000\n"), std::string::npos);
}

}  // namespace
}  // namespace metricsd::prom

namespace metricsd::prom {
namespace {

TEST(PromRegistry, SameNameTwiceIsOneFamily) {
  Registry r;
  r.counter("x_total", "X", {"pool"}).with({"a"}).inc();
  r.counter("x_total", "X", {"pool"}).with({"b"}).inc(2);
  std::string text = r.render();
  EXPECT_EQ(text,
            "# HELP x_total X\n# TYPE x_total counter\nx_total{pool=\"a\"} 1\n"
            "x_total{pool=\"b\"} 2\n");
  EXPECT_THROW(r.counter("x_total", "X", {"other"}), std::logic_error);
}

}  // namespace
}  // namespace metricsd::prom
