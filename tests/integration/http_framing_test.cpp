// The HTTP corners a hostile client or a proxy in front can use (issue #20), against the real
// daemon over raw sockets: request smuggling through Transfer-Encoding (RFC 9112 §6: chunked
// final and once, other codings 501, never with Content-Length or in HTTP/1.0, the
// connection closed after the error), a missing Host, obs-fold, unknown expectations (417),
// and client text in the log (a %0a in a path must not forge a log line).
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "ingest_support.hpp"
#include "raw_http.hpp"

namespace metricsd::test {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class HttpFraming : public IngestBase {
 protected:
  static void SetUpTestSuite() { start({}); }
  static void TearDownTestSuite() { stop(); }

  std::string auth() { return "Authorization: Bearer " + admin_token(port()) + "\r\n"; }

  // A complete line-protocol write of one sample of `node`, as a second request could be.
  std::string write_request(const std::string& node) {
    std::string body = "smuggled,node=" + node + " v=1\n";
    return "POST /api/v1/write HTTP/1.1\r\nHost: x\r\n" + auth() +
           "Content-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
  }

  // Sends `bytes` on a new connection; expects exactly one answer with `status` and `code`,
  // marked Connection: close, then the connection closed by the server with nothing more.
  RawAnswer expect_one_answer_then_close(const std::string& bytes, int status,
                                         const std::string& code) {
    RawConnection c(port());
    EXPECT_TRUE(c.send(bytes));
    auto t0 = std::chrono::steady_clock::now();
    auto a = c.read_answer(5s);
    if (!a) {
      ADD_FAILURE() << "no answer";
      return {};
    }
    EXPECT_EQ(a->status, status) << a->status_line << "\n" << a->body;
    // HTTP/1.0 closes unless told otherwise; 1.1 must say so.
    if (a->status_line.rfind("HTTP/1.0 ", 0) == 0)
      EXPECT_NE(a->header("connection"), "keep-alive") << a->status_line;
    else
      EXPECT_EQ(a->header("connection"), "close") << a->status_line;
    EXPECT_EQ(a->header("content-type"), "application/json");
    json body = json::parse(a->body, nullptr, false);
    if (body.is_object() && body["error"].is_object())
      EXPECT_EQ(body["error"].value("code", ""), code) << a->body;
    else
      ADD_FAILURE() << "not the JSON error model: " << a->body;
    std::string extra;
    EXPECT_TRUE(c.closed_by_server(5s, &extra))
        << "a second answer, or the connection kept open: " << extra.substr(0, 300);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
    return *a;
  }

  static std::string message_of(const RawAnswer& a) {
    json body = json::parse(a.body, nullptr, false);
    return body.is_object() && body["error"].is_object() ? body["error"].value("message", "") : "";
  }
};

// Each framing a proxy and Beast could read differently. The "body" of each is a whole
// second request: if the daemon took the first as bodiless, it would answer (and store)
// the second; it must refuse the first, close, and store nothing of either.
TEST_F(HttpFraming, AmbiguousTransferEncodingIsRefusedAndNothingIsSmuggled) {
  struct Case {
    std::string name, framing;
    unsigned version;  // of the outer request
    int status;
    std::string code, says;
  };
  const std::string inner_len = std::to_string(write_request("smug-x").size());
  const Case cases[] = {
      {"chunked-twice", "Transfer-Encoding: chunked, chunked\r\n", 11, 400, "invalid_argument",
       "once"},
      {"chunked-two-fields", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 11,
       400, "invalid_argument", "once"},
      {"gzip", "Transfer-Encoding: gzip\r\n", 11, 501, "not_implemented",
       "Transfer-Encoding: only chunked is supported"},
      {"gzip-chunked", "Transfer-Encoding: gzip, chunked\r\n", 11, 501, "not_implemented",
       "only chunked"},
      {"unknown", "Transfer-Encoding: x-custom\r\n", 11, 501, "not_implemented", "only chunked"},
      {"chunked-not-last", "Transfer-Encoding: chunked, identity\r\n", 11, 501, "not_implemented",
       "only chunked"},
      {"gzip-with-length", "Transfer-Encoding: gzip\r\nContent-Length: " + inner_len + "\r\n", 11,
       400, "invalid_argument", "Content-Length"},
      {"chunked-then-length", "Transfer-Encoding: chunked\r\nContent-Length: " + inner_len + "\r\n",
       11, 400, "invalid_argument", "Content-Length"},
      {"length-then-chunked", "Content-Length: " + inner_len + "\r\nTransfer-Encoding: chunked\r\n",
       11, 400, "invalid_argument", "Content-Length"},
      {"http10-chunked", "Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n", 10, 400,
       "invalid_argument", "HTTP/1.0"},
  };
  int i = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    std::string outer_node = "te-outer-" + std::to_string(i);
    std::string inner_node = "te-smug-" + std::to_string(i++);
    std::string version = c.version == 10 ? "HTTP/1.0" : "HTTP/1.1";
    // The outer request carries a sample of its own as a valid chunked body, then the
    // second request: whichever way a server frames it, something would be stored.
    std::string bytes = "POST /api/v1/write " + version + "\r\nHost: x\r\n" + auth() +
                        "Content-Type: text/plain\r\n" + c.framing + "\r\n" +
                        chunked("outer,node=" + outer_node + " v=1\n") + write_request(inner_node);
    auto a = expect_one_answer_then_close(bytes, c.status, c.code);
    EXPECT_NE(message_of(a).find(c.says), std::string::npos) << a.body;
    if (c.version == 10) {
      EXPECT_EQ(a.status_line.rfind("HTTP/1.0 ", 0), 0u) << a.status_line;
    }
    EXPECT_EQ(db().stored(outer_node), 0);
    EXPECT_EQ(db().stored(inner_node), 0);
  }
  // The daemon goes on serving; each refusal is counted.
  EXPECT_EQ(http_request(port(), "GET", "/healthz").status, 200);
  EXPECT_GE(scrape(port(), R"(metricsd_http_read_errors_total{kind="transfer_encoding"})"), 6);
  EXPECT_GE(scrape(port(), R"(metricsd_http_read_errors_total{kind="transfer_coding"})"), 4);
}

TEST_F(HttpFraming, ChunkedBodiesStillWorkAndTheConnectionStaysOpen) {
  std::string lines;
  for (int i = 0; i < 2000; ++i)
    lines += "chunky,node=te-chunked,i=" + std::to_string(i) + " v=" + std::to_string(i) + "\n";
  RawConnection c(port());
  ASSERT_TRUE(c.send("POST /api/v1/write HTTP/1.1\r\nHost: x\r\n" + auth() +
                     "Content-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n" +
                     chunked(lines, 1000)));
  auto a = c.read_answer();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, 204) << a->body;
  EXPECT_EQ(db().stored("te-chunked"), 2000);
  // Keep-alive: the next request on the same connection is read and answered.
  ASSERT_TRUE(c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  auto b = c.read_answer();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->status, 200);
  EXPECT_EQ(scrape(port(), "metricsd_http_inflight_body_bytes"), 0);
}

TEST_F(HttpFraming, Http11WithoutHostIs400) {
  auto a = expect_one_answer_then_close(
      "GET /healthz HTTP/1.1\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n", 400, "invalid_argument");
  EXPECT_NE(message_of(a).find("Host"), std::string::npos) << a.body;
  auto two = expect_one_answer_then_close("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
                                          400, "invalid_argument");
  EXPECT_NE(message_of(two).find("Host"), std::string::npos) << two.body;
  // HTTP/1.0 has no Host requirement.
  RawConnection c(port());
  ASSERT_TRUE(c.send("GET /healthz HTTP/1.0\r\n\r\n"));
  auto ok = c.read_answer();
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_GE(scrape(port(), R"(metricsd_http_read_errors_total{kind="host"})"), 2);
}

TEST_F(HttpFraming, ObsFoldIs400) {
  for (const std::string fold : {" ", "\t"}) {
    // The folded line hides a second Content-Length or Authorization from a proxy that
    // reads lines; the daemon must not unfold it into something else.
    auto a =
        expect_one_answer_then_close("GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: one\r\n" + fold +
                                         "two\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                                     400, "invalid_argument");
    EXPECT_NE(message_of(a).find("folding"), std::string::npos) << a.body;
  }
  std::string body = "fold,node=te-fold v=1\n";
  expect_one_answer_then_close(
      "POST /api/v1/write HTTP/1.1\r\nHost: x\r\n" + auth() +
          "Content-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\nX-Note: a\r\n b\r\n\r\n" + body,
      400, "invalid_argument");
  EXPECT_EQ(db().stored("te-fold"), 0);
  EXPECT_GE(scrape(port(), R"(metricsd_http_read_errors_total{kind="obs_fold"})"), 3);
}

TEST_F(HttpFraming, UnknownExpectationIs417AndNothingIsStored) {
  std::string body = "expect,node=te-expect v=1\n";
  auto head = [&](const std::string& expect) {
    return "POST /api/v1/write HTTP/1.1\r\nHost: x\r\n" + auth() +
           "Content-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\nExpect: " + expect + "\r\n\r\n";
  };
  for (const std::string e : {"foo", "100-continue, foo", "200-ok"}) {
    SCOPED_TRACE(e);
    auto a = expect_one_answer_then_close(head(e) + body, 417, "expectation_failed");
    EXPECT_NE(message_of(a).find("100-continue"), std::string::npos) << a.body;
  }
  EXPECT_EQ(db().stored("te-expect"), 0);
  EXPECT_GE(scrape(port(), R"(metricsd_http_read_errors_total{kind="expectation"})"), 3);
  // 100-continue (any case) still works: 100 first, then the body, then the answer.
  for (const std::string e : {"100-continue", "100-Continue"}) {
    SCOPED_TRACE(e);
    int64_t before = db().stored("te-expect");
    RawConnection c(port());
    ASSERT_TRUE(c.send(head(e)));
    auto cont = c.read_answer(5s);
    ASSERT_TRUE(cont);
    EXPECT_EQ(cont->status, 100) << cont->status_line;
    ASSERT_TRUE(c.send(body));
    auto done = c.read_answer(5s);
    ASSERT_TRUE(done);
    EXPECT_EQ(done->status, 204) << done->body;
    EXPECT_EQ(db().stored("te-expect"), before + 1);
  }
}

// A path is the client's text: decoded, %0a is a newline and %00 a NUL. The access log
// writes it escaped, on the request's one line.
TEST_F(HttpFraming, ControlCharactersInAPathLeaveOneEscapedLogLine) {
  const std::string path =
      "/api/v1/nodes/inj%0a2026-01-01T00:00:00.000Z%20info%20forged%0d%00end%5c%22%ff";
  auto r = http_request(port(), "GET", path);
  EXPECT_GT(r.status, 0);
  std::vector<std::string> lines;
  ASSERT_TRUE(eventually(
      [&] {
        lines.clear();
        std::istringstream in(daemon_->log());
        for (std::string line; std::getline(in, line);)
          if (line.find("forged") != std::string::npos) lines.push_back(line);
        return !lines.empty();
      },
      5s));
  ASSERT_EQ(lines.size(), 1u) << daemon_->log();
  const std::string& line = lines[0];
  EXPECT_NE(
      line.find(
          R"( GET /api/v1/nodes/inj\x0a2026-01-01T00:00:00.000Z\x20info\x20forged\x0d\x00end\\\"\xff route=/api/v1/nodes/{node_id} )"),
      std::string::npos)
      << line;
  std::string log = daemon_->log();
  EXPECT_EQ(log.find('\0'), std::string::npos) << "a NUL reached the log";
  EXPECT_EQ(log.find('\r'), std::string::npos) << "a carriage return reached the log";
  EXPECT_EQ(log.find("\n2026-01-01T00:00:00.000Z info forged"), std::string::npos);
}

}  // namespace
}  // namespace metricsd::test
