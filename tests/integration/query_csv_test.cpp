// The streamed CSV export of /api/v1/query against a real daemon: exact rows across the
// blocks the export reads, chunked transfer with the usual headers, keep-alive after it,
// errors still answered as JSON, and memory that does not grow with the body (also for a
// reader slower than the daemon).
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <algorithm>
#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "core/clock.hpp"
#include "core/compaction.hpp"
#include "core/time_parse.hpp"
#include "harness.hpp"

namespace metricsd::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using nlohmann::json;

// "exp.v": three series, a sample every 3 s for 8 h, 700 ms into its second.
constexpr int kExpSeries = 3;
constexpr int kExpSamples = 9600;
// "big.v": four series with a 1000-byte label, a sample every second: about 33 MB of CSV.
constexpr int kBigSeries = 4;
constexpr int kBigSamples = 8000;

const std::string kWriteFailed = "metricsd_http_stream_aborted_total{reason=\"write_failed\"}";

double exp_value(int s, int i) {
  return s * 100'000 + i / 4.0;
}
std::string big_pad(int s) {
  return std::string(1000, static_cast<char>('a' + s));
}

// A field of /proc/<pid>/status in kB ("VmRSS", "VmHWM"), or -1.
long proc_status_kb(pid_t pid, const std::string& field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  return -1;
}

// Whether the process runs under AddressSanitizer (TEST_METRICSD_BINARY may name such a
// build), whose quarantine keeps freed memory resident: RSS then says nothing about buffering.
bool runs_under_asan(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/maps");
  std::string line;
  while (std::getline(f, line))
    if (line.find("libasan") != std::string::npos) return true;
  return false;
}

// Resets the peak RSS (VmHWM) to the current RSS; false if the kernel refuses.
bool reset_peak_rss(pid_t pid) {
  std::ofstream f("/proc/" + std::to_string(pid) + "/clear_refs");
  f << "5";
  f.flush();
  return f.good();
}

// Parses a whole response (as bytes off the wire). `complete`: the parser reached the end
// of the message (for a chunked body, the terminating chunk).
http::response<http::string_body> parse_response(const std::string& raw, bool* complete) {
  http::response_parser<http::string_body> p;
  p.body_limit(1ULL << 31);
  p.eager(true);
  size_t off = 0;
  while (!p.is_done() && off < raw.size()) {
    beast::error_code ec;
    size_t n = p.put(asio::buffer(raw.data() + off, raw.size() - off), ec);
    off += n;
    if (ec == http::error::need_more) {
      if (n == 0) break;
      continue;
    }
    if (ec) break;
  }
  *complete = p.is_done();
  return p.release();
}

class QueryCsvTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    // A fixed mmap threshold makes glibc return a large freed buffer to the kernel, so one
    // export's peak cannot hide the next one's: the memory tests measure each on its own.
    daemon_ = new Daemon(
        dir_->path(),
        {"--ingest-compaction-interval-ms", "200ms", "--http-cors-origins", "https://dash.example"},
        {{"MALLOC_MMAP_THRESHOLD_", "131072"}});
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
    base_ = floor_to(wall_ms() - 10 * kHourMs, kHourMs);
    std::string lines;
    for (int i = 0; i < kExpSamples; ++i)
      for (int s = 0; s < kExpSeries; ++s)
        lines +=
            fmt::format("exp,node=c1,s={} v={} {}\n", s, exp_value(s, i), base_ + i * 3000 + 700);
    post_lines(lines);
    lines.clear();
    // Series 0 is created first, so it is exported first.
    for (int i = 0; i < kBigSamples; ++i) {
      for (int s = 0; s < kBigSeries; ++s)
        lines += fmt::format("big,node=m1,pad={} v={} {}\n", big_pad(s), i + s, base_ + i * 1000);
      if (lines.size() > (4 << 20)) {
        post_lines(lines);
        lines.clear();
      }
    }
    post_lines(lines);
    // Let compaction move everything into chunks, so the export reads stored chunks and
    // no compaction runs while memory is measured.
    const double total = kExpSeries * kExpSamples + kBigSeries * kBigSamples;
    for (int i = 0; i < 600; ++i) {
      if (metric_value(daemon_->port(), "metricsd_compaction_samples_total", 0) >= total) break;
      std::this_thread::sleep_for(100ms);
    }
    EXPECT_GE(metric_value(daemon_->port(), "metricsd_compaction_samples_total", 0), total);
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete dir_;
  }
  static void post_lines(const std::string& lines) {
    auto r = http_request(daemon_->port(), "POST", "/api/v1/write?precision=ms", lines);
    ASSERT_EQ(r.status, 204) << r.body;
  }
  static std::string q(const std::string& metric, int64_t from, int64_t to,
                       const std::string& rest) {
    return fmt::format("/api/v1/query?metric={}&from={:.3f}&to={:.3f}&{}", metric, from / 1000.0,
                       to / 1000.0, rest);
  }
  // The whole big.v export as the daemon must send it.
  static std::string expected_big_csv() {
    std::string out = "time,node,labels,value\n";
    for (int s = 0; s < kBigSeries; ++s) {
      std::string fields = fmt::format(",m1,\"{{\"\"pad\"\":\"\"{}\"\"}}\",", big_pad(s));
      for (int i = 0; i < kBigSamples; ++i)
        out += format_rfc3339_ms(base_ + i * 1000) + fields + std::to_string(i + s) + "\n";
    }
    return out;
  }
  static std::string big_target() {
    return q("big.v", base_, base_ + kBigSamples * 1000, "step=1s&format=csv");
  }
  static std::string request_text(const std::string& target, const std::string& extra = "") {
    return fmt::format("GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n{}\r\n",
                       target, admin_token(daemon_->port()), extra);
  }
  // A connection with an 8 KiB receive window that has sent the big export's request.
  static tcp::socket small_window_export(asio::io_context& ioc, const std::string& extra = "") {
    tcp::socket sock(ioc);
    sock.open(tcp::v4());
    sock.set_option(asio::socket_base::receive_buffer_size(8192));
    sock.connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(daemon_->port())));
    asio::write(sock, asio::buffer(request_text(big_target(), extra)));
    return sock;
  }
  static TempDir* dir_;
  static Daemon* daemon_;
  static int64_t base_;
};
TempDir* QueryCsvTest::dir_ = nullptr;
Daemon* QueryCsvTest::daemon_ = nullptr;
int64_t QueryCsvTest::base_ = 0;

// step=1s over 8 h is about 28 800 buckets per series: three blocks of 10 000 and parts,
// with a first bucket cut by `from` and the last sample left out by `to`.
TEST_F(QueryCsvTest, RowsAreExactAcrossBlockBoundaries) {
  int64_t from = base_ + 200;
  int64_t to = base_ + (kExpSamples - 1) * 3000;  // before the last sample (at +700 ms)
  auto r = http_request(daemon_->port(), "GET", q("exp.v", from, to, "step=1s&format=csv"));
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 500);
  ASSERT_EQ(r.body.substr(0, 23), "time,node,labels,value\n");
  std::vector<std::string> lines;
  for (size_t pos = 23; pos < r.body.size();) {
    size_t nl = r.body.find('\n', pos);
    ASSERT_NE(nl, std::string::npos) << "the body must end with a line break";
    lines.push_back(r.body.substr(pos, nl - pos));
    pos = nl + 1;
  }
  const size_t rows = kExpSamples - 1;
  ASSERT_EQ(lines.size(), kExpSeries * rows);
  // The series come one after the other, each whole and in time order.
  std::set<int> seen;
  for (int k = 0; k < kExpSeries; ++k) {
    const std::string& first = lines[k * rows];
    auto labels_at = first.find(",\"{\"\"s\"\":\"\"");
    ASSERT_NE(labels_at, std::string::npos) << first;
    int s = first[labels_at + 11] - '0';
    ASSERT_TRUE(s >= 0 && s < kExpSeries && seen.insert(s).second) << first;
    std::string fields = fmt::format(",c1,\"{{\"\"s\"\":\"\"{}\"\"}}\",", s);
    EXPECT_EQ(first, format_rfc3339_ms(base_) + fields + fmt::format("{}", exp_value(s, 0)));
    EXPECT_EQ(lines[k * rows + rows - 1], format_rfc3339_ms(base_ + (kExpSamples - 2) * 3000) +
                                              fields +
                                              fmt::format("{}", exp_value(s, kExpSamples - 2)));
    int wrong = 0;
    for (size_t i = 0; i < rows; ++i) {
      std::string want = format_rfc3339_ms(base_ + static_cast<int64_t>(i) * 3000) + fields +
                         fmt::format("{}", exp_value(s, static_cast<int>(i)));
      if (lines[k * rows + i] != want && ++wrong <= 5)
        ADD_FAILURE() << "row " << i << " of series " << s << ": " << lines[k * rows + i]
                      << " != " << want;
    }
    EXPECT_EQ(wrong, 0);
  }
  // JSON keeps its limit of 11 000 points for the same request.
  auto j = http_request(daemon_->port(), "GET", q("exp.v", from, to, "step=1s"));
  EXPECT_EQ(j.status, 400) << j.body.substr(0, 200);
}

TEST_F(QueryCsvTest, IsChunkedWithTheUsualHeaders) {
  auto target = q("exp.v", base_, base_ + kHourMs, "step=1m&agg=count&format=csv&label=s:1");
  auto r = http_request(daemon_->port(), "GET", target, "", {{"Origin", "https://dash.example"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("transfer-encoding"), "chunked");
  EXPECT_EQ(r.header("content-length"), "");
  EXPECT_EQ(r.header("content-type"), "text/csv; charset=utf-8");
  EXPECT_EQ(r.header("x-content-type-options"), "nosniff");
  EXPECT_NE(r.header("content-security-policy"), "");
  EXPECT_EQ(r.header("access-control-allow-origin"), "https://dash.example");
  // 60 rows of 20 samples each.
  EXPECT_EQ(std::count(r.body.begin(), r.body.end(), '\n'), 61);
  EXPECT_NE(r.body.find(format_rfc3339_ms(base_ + 59 * 60'000) + ",c1,"), std::string::npos);
  // HTTP/1.0 has no chunked coding: the body runs to the close.
  std::string raw = raw_exchange(
      daemon_->port(), fmt::format("GET {} HTTP/1.0\r\nAuthorization: Bearer {}\r\n\r\n", target,
                                   admin_token(daemon_->port())));
  auto body_at = raw.find("\r\n\r\n");
  ASSERT_NE(body_at, std::string::npos) << raw;
  std::string head = raw.substr(0, body_at);
  EXPECT_EQ(head.find("chunked"), std::string::npos) << head;
  EXPECT_EQ(head.find("Content-Length"), std::string::npos) << head;
  EXPECT_EQ(raw.substr(body_at + 4), r.body);
  // HEAD: the same head, no body.
  auto h = http_request(daemon_->port(), "HEAD", target);
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.header("transfer-encoding"), "chunked");
  EXPECT_TRUE(h.body.empty());
}

TEST_F(QueryCsvTest, TheConnectionServesTheNextRequestAfterIt) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(60s);
  stream.connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(daemon_->port())));
  auto ask = [&](const std::string& target) {
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::authorization, "Bearer " + admin_token(daemon_->port()));
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> p;
    p.body_limit(1 << 30);
    http::read(stream, buf, p);
    EXPECT_EQ(buf.size(), 0u);
    return p.release();
  };
  auto csv = ask(q("exp.v", base_, base_ + 8 * kHourMs, "step=1s&format=csv&label=s:2"));
  EXPECT_EQ(csv.result_int(), 200);
  EXPECT_TRUE(csv.chunked());
  EXPECT_TRUE(csv.keep_alive());
  EXPECT_EQ(std::count(csv.body().begin(), csv.body().end(), '\n'), 1 + kExpSamples);
  auto json_answer = ask(q("exp.v", base_, base_ + kHourMs, "step=1h&agg=count&label=s:2"));
  ASSERT_EQ(json_answer.result_int(), 200);
  EXPECT_EQ(json::parse(json_answer.body())["series"][0]["points"][0][1], 1200);
  auto again = ask(q("exp.v", base_, base_ + kHourMs, "step=1h&agg=count&format=csv&label=s:0"));
  EXPECT_EQ(again.body(), "time,node,labels,value\n" + format_rfc3339_ms(base_) +
                              ",c1,\"{\"\"s\"\":\"\"0\"\"}\",1200\n");
}

// A buffered body would raise the daemon's peak RSS by at least the body's size (33 MB).
TEST_F(QueryCsvTest, ALargeExportDoesNotGrowMemoryWithTheBody) {
  const pid_t pid = daemon_->pid();
  // Decided before anything runs, so a skip means nothing was checked. (The slow-reader test
  // below checks the same export's bytes under AddressSanitizer too.)
  if (runs_under_asan(pid))
    GTEST_SKIP() << "the daemon runs under AddressSanitizer, whose quarantine keeps freed "
                    "memory resident: RSS says nothing about buffering";
  ASSERT_TRUE(reset_peak_rss(pid)) << "cannot reset VmHWM of the daemon";
  long before_kb = proc_status_kb(pid, "VmRSS");
  auto r = http_request(daemon_->port(), "GET", big_target());
  long peak_kb = proc_status_kb(pid, "VmHWM");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("transfer-encoding"), "chunked");
  const std::string expected = expected_big_csv();
  ASSERT_GT(expected.size(), 30u << 20);
  EXPECT_EQ(r.body.size(), expected.size());
  EXPECT_TRUE(r.body == expected) << "the large export differs from the expected rows";
  long growth = (peak_kb - before_kb) * 1024;
  RecordProperty("rss_growth_bytes", std::to_string(growth));
  EXPECT_LT(growth, static_cast<long>(expected.size() / 4))
      << "RSS before " << before_kb << " kB, peak " << peak_kb << " kB, body " << expected.size()
      << " B";
}

// A reader with a small receive window that sleeps between small reads: the daemon waits
// for it (producing no faster than it reads) and the body still arrives whole. The memory
// bound is checked unless the daemon runs under AddressSanitizer (see above); the test then
// says so in its output (rss_bound property) and passes on what it did check.
TEST_F(QueryCsvTest, ASlowReaderGetsTheWholeBodyAndNothingIsBuffered) {
  const pid_t pid = daemon_->pid();
  const bool rss_measurable = !runs_under_asan(pid);
  RecordProperty("rss_bound", rss_measurable ? "checked" : "not checked: AddressSanitizer");
  if (!rss_measurable)
    std::cout << "[   NOTE   ] the daemon runs under AddressSanitizer: the memory bound is not "
                 "checked, only the body and the writes\n";
  const double write_failed_before = metric_value(daemon_->port(), kWriteFailed, 0);
  ASSERT_TRUE(reset_peak_rss(pid));
  long before_kb = proc_status_kb(pid, "VmRSS");
  asio::io_context ioc;
  tcp::socket sock = small_window_export(ioc, "Connection: close\r\n");
  std::string raw;
  std::array<char, 16384> buf;
  auto deadline = std::chrono::steady_clock::now() + 120s;
  size_t reads = 0;
  for (;;) {
    beast::error_code ec;
    size_t n = sock.read_some(asio::buffer(buf), ec);
    raw.append(buf.data(), n);
    if (ec) break;
    if (++reads % 4 == 0) std::this_thread::sleep_for(1ms);
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "read " << raw.size() << " B";
  }
  long peak_kb = proc_status_kb(pid, "VmHWM");
  bool complete = false;
  auto res = parse_response(raw, &complete);
  EXPECT_TRUE(complete) << "the transfer ended early after " << raw.size() << " B";
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_TRUE(res.chunked());
  const std::string expected = expected_big_csv();
  EXPECT_EQ(res.body().size(), expected.size());
  EXPECT_TRUE(res.body() == expected) << "the slowly read export differs from the expected rows";
  long growth = (peak_kb - before_kb) * 1024;
  RecordProperty("rss_growth_bytes", std::to_string(growth));
  EXPECT_EQ(metric_value(daemon_->port(), kWriteFailed, 0), write_failed_before)
      << "the slow reader's writes must wait, not time out";
  if (rss_measurable) {
    EXPECT_LT(growth, static_cast<long>(expected.size() / 4))
        << "RSS before " << before_kb << " kB, peak " << peak_kb << " kB";
  }
}

TEST_F(QueryCsvTest, ErrorsBeforeTheFirstByteAreJson) {
  struct Case {
    std::string target;
    int status;
    std::string field;
  };
  int64_t now = wall_ms();
  std::vector<Case> cases = {
      {"/api/v1/query?metric=exp.v&from=-30d&step=1s&format=csv", 400, "step"},
      {"/api/v1/query?metric=exp.v&max_points=1000001&format=csv", 400, "max_points"},
      {"/api/v1/query?metric=exp.v&agg=median&format=csv", 400, "agg"},
      {"/api/v1/query?metric=exp.v&from=now&to=-1h&format=csv", 400, "from"},
      {"/api/v1/query?metric=exp.v&node=nobody&format=csv", 404, ""},
      {"/api/v1/query?metric=exp.v&from=-30d&step=10s", 400, "step"},  // JSON's own limit
  };
  for (const auto& c : cases) {
    auto r = http_request(daemon_->port(), "GET", c.target);
    EXPECT_EQ(r.status, c.status) << c.target << " " << r.body;
    EXPECT_EQ(r.header("content-type"), "application/json") << c.target;
    EXPECT_NE(r.header("content-length"), "") << c.target;
    auto j = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << c.target << " " << r.body;
    if (!c.field.empty()) {
      EXPECT_EQ(j["error"]["details"][0]["field"], c.field) << c.target;
    }
  }
  auto step = json::parse(http_request(daemon_->port(), "GET", cases[0].target).body);
  EXPECT_NE(step["error"]["message"].get<std::string>().find("1000000"), std::string::npos);
  // The same 30 days at 10 s (259 200 buckets) is within the CSV limit.
  auto ok = http_request(daemon_->port(), "GET",
                         q("exp.v", now - 30 * 24 * kHourMs, now, "step=10s&format=csv&label=s:0"));
  EXPECT_EQ(ok.status, 200) << ok.body.substr(0, 300);
  EXPECT_EQ(std::count(ok.body.begin(), ok.body.end(), '\n'), 1 + 8 * 360);  // 10 s buckets
  // Accept: text/csv with a bad request is still JSON.
  auto a = http_request(daemon_->port(), "GET", "/api/v1/query?metric=exp.v&agg=median", "",
                        {{"Accept", "text/csv"}});
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.header("content-type"), "application/json");
}

// A client that goes away mid-export stops it: the daemon's next write fails, it counts
// that and produces nothing more.
TEST_F(QueryCsvTest, AClientThatGoesAwayStopsTheExport) {
  const double before = metric_value(daemon_->port(), kWriteFailed, 0);
  {
    asio::io_context ioc;
    tcp::socket sock = small_window_export(ioc);
    std::array<char, 16384> buf;
    size_t got = 0;
    while (got < 100'000)
      got += sock.read_some(asio::buffer(buf));
  }  // closed with most of the body unread
  double after = before;
  for (int i = 0; i < 100 && after == before; ++i) {
    std::this_thread::sleep_for(50ms);
    after = metric_value(daemon_->port(), kWriteFailed, 0);
  }
  EXPECT_EQ(after, before + 1);
  EXPECT_NE(daemon_->log().find("(write failed)"), std::string::npos);
}

// Client backends of the embedded PostgreSQL that are idle (the daemon's pooled connections
// between queries).
std::vector<pid_t> idle_backends(pid_t postmaster) {
  std::vector<pid_t> out;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(e.path() / "stat");
    std::string s;
    std::getline(stat, s);
    auto close = s.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(s.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid != postmaster) continue;
    std::ifstream cmd(e.path() / "cmdline");
    std::string title;
    std::getline(cmd, title, '\0');
    if (title.find(" idle") != std::string::npos) out.push_back(std::stoi(name));
  }
  return out;
}

// Last in this file: it cuts the daemon's database connections (the pools reconnect).
// The database goes away while a client is paused mid-export: the status is already sent,
// so the daemon cuts the transfer short (no terminating chunk), logs it and counts it.
TEST_F(QueryCsvTest, AFailureMidStreamTruncatesTheTransfer) {
  const std::string counter = "metricsd_http_stream_aborted_total{reason=\"producer_error\"}";
  const double aborted_before = metric_value(daemon_->port(), counter, 0);
  asio::io_context ioc;
  tcp::socket sock = small_window_export(ioc, "Connection: close\r\n");
  std::string raw;
  std::array<char, 16384> buf;
  while (raw.size() < 100'000)
    raw.append(buf.data(), sock.read_some(asio::buffer(buf)));
  ASSERT_EQ(raw.substr(0, 15), "HTTP/1.1 200 OK");
  // The daemon is now blocked writing the first series (one block of about 8 MB); the
  // next series needs a database read.
  pid_t pg = embedded_postgres_pid(dir_->path());
  auto backends = idle_backends(pg);
  ASSERT_FALSE(backends.empty());
  for (pid_t b : backends)
    kill(b, SIGTERM);  // what pg_terminate_backend does
  for (;;) {
    beast::error_code ec;
    size_t n = sock.read_some(asio::buffer(buf), ec);
    raw.append(buf.data(), n);
    if (ec) break;
  }
  bool complete = true;
  auto res = parse_response(raw, &complete);
  EXPECT_FALSE(complete) << "a cut-short export must not end like a whole one";
  EXPECT_EQ(raw.find("\r\n0\r\n\r\n"), std::string::npos);
  EXPECT_GT(raw.size(), 8'000'000u);  // the first series arrived whole
  EXPECT_LT(raw.size(), expected_big_csv().size());
  EXPECT_EQ(metric_value(daemon_->port(), counter, 0), aborted_before + 1);
  EXPECT_NE(daemon_->log().find("streamed answer aborted"), std::string::npos);
}

}  // namespace
}  // namespace metricsd::test
