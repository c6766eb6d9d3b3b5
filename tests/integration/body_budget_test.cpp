// limits.max_inflight_body_bytes against the real daemon: bodies being received are bounded
// in total across connections. Slow clients each holding part of a 2 MiB body fill a 4 MiB
// budget; the next bodies get 503 + Retry-After at once (declared or chunked, with or
// without Expect: 100-continue) and are closed; a body larger than the whole budget gets
// 413; a client that disconnects gives its share back; once the others finish, the refused
// ones succeed, and the gauge of bytes in flight is back at 0. And after a burst of large
// bodies the daemon's memory goes back down.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "ingest_support.hpp"
#include "raw_http.hpp"

namespace metricsd::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr int64_t kMiB = 1 << 20;
constexpr int64_t kBody = 2 * kMiB;

class BodyBudget : public IngestBase {
 protected:
  // The per-request limit (8 MiB) is above the budget (4 MiB): the budget is what binds.
  static void SetUpTestSuite() {
    start({"--limits-max-inflight-body-bytes", "4MiB", "--http-max-body-bytes", "8MiB"});
  }
  static void TearDownTestSuite() { stop(); }

  // A JSON write of one sample of `node`, padded with whitespace to exactly `size` bytes.
  static std::string body_of(const std::string& node, int64_t size = kBody) {
    std::string b = R"({"node":")" + node + R"(","metrics":{"budget.m":1}})";
    b.resize(static_cast<size_t>(size), ' ');
    return b;
  }
  std::string head(int64_t length, const std::string& extra = "") {
    return "POST /api/v1/metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
           admin_token(port()) + "\r\nContent-Type: application/json\r\n" +
           (length >= 0 ? "Content-Length: " + std::to_string(length) + "\r\n"
                        : std::string("Transfer-Encoding: chunked\r\n")) +
           extra + "\r\n";
  }
  double in_flight() { return scrape(port(), "metricsd_http_inflight_body_bytes"); }
  bool in_flight_becomes(double v) {
    return eventually([&] { return in_flight() == v; }, 10s);
  }

  // The answer refusing a body over the budget: 503, Retry-After: 1, the budget named, and
  // the connection closed.
  static void expect_over_budget(RawConnection& c) {
    auto a = c.read_answer(5s);
    ASSERT_TRUE(a) << "no answer";
    EXPECT_EQ(a->status, 503) << a->status_line << " " << a->body;
    EXPECT_EQ(a->header("retry-after"), "1");
    EXPECT_EQ(a->header("connection"), "close");
    json body = json::parse(a->body, nullptr, false);
    ASSERT_TRUE(body.is_object()) << a->body;
    EXPECT_EQ(body["error"].value("code", ""), "unavailable");
    EXPECT_NE(body["error"].value("message", "").find("limits.max_inflight_body_bytes"),
              std::string::npos)
        << a->body;
    EXPECT_TRUE(c.closed_by_server(5s));
  }

  // Sends the rest of `body` (from `from`) in pieces with pauses, as a slow client does.
  static void send_slowly(RawConnection& c, const std::string& body, size_t from) {
    for (size_t p = from; p < body.size(); p += 256 * 1024) {
      ASSERT_TRUE(c.send(body.substr(p, 256 * 1024)));
      std::this_thread::sleep_for(20ms);
    }
  }
};

TEST_F(BodyBudget, BodiesBeyondTheBudgetWaitTheirTurn) {
  ASSERT_EQ(in_flight(), 0);
  // A and B start 2 MiB bodies and stall after 64 KiB: the 4 MiB budget is taken.
  const std::string a_body = body_of("bb-a"), b_body = body_of("bb-b");
  RawConnection a(port()), b(port());
  ASSERT_TRUE(a.send(head(kBody) + a_body.substr(0, 65536)));
  ASSERT_TRUE(b.send(head(kBody) + b_body.substr(0, 65536)));
  ASSERT_TRUE(in_flight_becomes(4 * kMiB)) << in_flight();

  // C: a declared body that does not fit now.
  const std::string c_body = body_of("bb-c");
  {
    RawConnection c(port());
    ASSERT_TRUE(c.send(head(kBody) + c_body.substr(0, 65536)));
    expect_over_budget(c);
  }
  // D: with Expect: 100-continue the refusal comes instead of the 100, before any body.
  const std::string d_body = body_of("bb-d");
  {
    RawConnection d(port());
    ASSERT_TRUE(d.send(head(kBody, "Expect: 100-continue\r\n")));
    expect_over_budget(d);
  }
  // E: a chunked body is held as it grows; its first growth does not fit.
  const std::string e_body = body_of("bb-e", 512 * 1024);
  {
    RawConnection e(port());
    ASSERT_TRUE(e.send(head(-1) + chunked(e_body, 16384).substr(0, 100'000)));
    expect_over_budget(e);
  }
  // F: larger than the whole budget (within http.max_body_bytes): it could never fit, 413.
  {
    RawConnection f(port());
    ASSERT_TRUE(f.send(head(5 * kMiB)));
    auto r = f.read_answer(5s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413) << r->body;
    EXPECT_NE(r->body.find("limits.max_inflight_body_bytes"), std::string::npos) << r->body;
  }
  EXPECT_EQ(in_flight(), 4 * kMiB);  // the refusals took nothing

  // A disconnects halfway: its share comes back.
  a.close();
  ASSERT_TRUE(in_flight_becomes(2 * kMiB)) << in_flight();
  // B finishes slowly and is stored.
  send_slowly(b, b_body, 65536);
  auto b_answer = b.read_answer(30s);
  ASSERT_TRUE(b_answer);
  EXPECT_EQ(b_answer->status, 200) << b_answer->body;
  ASSERT_TRUE(in_flight_becomes(0)) << in_flight();

  // Now the refused ones succeed: C and D side by side (4 MiB fits), then E chunked.
  {
    RawConnection c(port()), d(port());
    ASSERT_TRUE(c.send(head(kBody) + c_body.substr(0, 65536)));
    ASSERT_TRUE(d.send(head(kBody, "Expect: 100-continue\r\n")));
    auto cont = d.read_answer(5s);
    ASSERT_TRUE(cont);
    EXPECT_EQ(cont->status, 100);
    std::thread slow_c([&] { send_slowly(c, c_body, 65536); });
    send_slowly(d, d_body, 0);
    slow_c.join();
    for (auto* conn : {&c, &d}) {
      auto r = conn->read_answer(30s);
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 200) << r->body;
    }
  }
  {
    RawConnection e(port());
    ASSERT_TRUE(e.send(head(-1) + chunked(e_body, 16384)));
    auto r = e.read_answer(30s);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
  }
  for (const char* node : {"bb-b", "bb-c", "bb-d", "bb-e"})
    EXPECT_EQ(db().stored(node), 1) << node;
  EXPECT_EQ(db().stored("bb-a"), 0);
  ASSERT_TRUE(in_flight_becomes(0)) << in_flight();
  EXPECT_GE(scrape(port(), R"(metricsd_http_read_errors_total{kind="body_budget"})"), 3);
}

// The resident memory of process `pid`, in MiB (0 if unknown).
int64_t rss_mib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) / 1024;
  return 0;
}

// After a burst of large bodies (144 MiB at once here) the daemon's memory goes back down:
// bodies are freed with their request, and once the burst has passed the freed pages are
// given back to the system (glibc would keep them; see main.cpp's mallopt). Not all of
// them: glibc's malloc_trim leaves the top of each thread's arena (up to 64 MiB each).
TEST(BodyMemory, ABurstOfBodiesIsGivenBackToTheSystem) {
  TempDir dir;
  Daemon d(dir.path());
  ASSERT_TRUE(d.wait_ready()) << d.log();
  const int64_t each = 12 * kMiB;
  const int n = 12;
  const std::string token = admin_token(d.port());
  const int64_t base = rss_mib(d.pid());
  std::atomic<int64_t> peak{base};
  std::atomic<bool> sampling{true};
  std::thread sampler([&] {
    while (sampling) {
      peak = std::max(peak.load(), rss_mib(d.pid()));
      std::this_thread::sleep_for(10ms);
    }
  });
  std::vector<std::unique_ptr<RawConnection>> conns;
  std::vector<std::string> bodies;
  for (int i = 0; i < n; ++i) {
    std::string b = R"({"node":"mem-)" + std::to_string(i) + R"(","metrics":{"m":1}})";
    b.resize(static_cast<size_t>(each), ' ');
    bodies.push_back(std::move(b));
    conns.push_back(std::make_unique<RawConnection>(d.port()));
    ASSERT_TRUE(conns.back()->send(
        "POST /api/v1/metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
        "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(each) +
        "\r\n\r\n" + bodies.back().substr(0, bodies.back().size() - 1)));
  }
  // Every body all but received, so all are in memory at once; then all complete.
  EXPECT_TRUE(eventually([&] { return rss_mib(d.pid()) >= base + 130; }, 10s))
      << "base " << base << " MiB, now " << rss_mib(d.pid()) << " MiB";
  for (int i = 0; i < n; ++i)
    ASSERT_TRUE(conns[i]->send(bodies[i].substr(bodies[i].size() - 1)));
  for (int i = 0; i < n; ++i) {
    auto a = conns[i]->read_answer(30s);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->status, 200) << a->body;
  }
  sampling = false;
  sampler.join();
  EXPECT_TRUE(
      eventually([&] { return d.log().find("freed memory given back") != std::string::npos; }, 5s));
  int64_t after = 0;
  // At least half of what the burst took comes back (runs here: 80 to 99 %; before: none).
  EXPECT_TRUE(
      eventually([&] { return (after = rss_mib(d.pid())) <= base + (peak - base) / 2; }, 10s))
      << "base " << base << " MiB, peak " << peak << " MiB, after " << after << " MiB";
}

}  // namespace
}  // namespace metricsd::test
