// The request-head checks beyond Beast's parser (RFC 9112 framing, Host, Expect, obs-fold):
// a table of heads and what each gets; Beast's own framing errors explained; obs-fold
// found in what the parser consumes.
#include "server/request_framing.hpp"

#include <gtest/gtest.h>

#include <boost/beast/http.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace metricsd::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

using Fields = std::vector<std::pair<std::string, std::string>>;

http::request<http::empty_body> head(const Fields& fields, unsigned version = 11) {
  http::request<http::empty_body> h{http::verb::post, "/api/v1/metrics", version};
  for (const auto& [k, v] : fields)
    h.insert(k, v);
  return h;
}

TEST(RequestFraming, TableOfHeads) {
  struct Case {
    Fields fields;
    unsigned version;
    int status;  // 0: accepted
    std::string kind;
  };
  const Case cases[] = {
      {{{"Host", "x"}}, 11, 0, ""},
      {{{"Host", "x"}, {"Content-Length", "5"}}, 11, 0, ""},
      {{{"Host", "x"}, {"Transfer-Encoding", "chunked"}}, 11, 0, ""},
      {{{"Host", "x"}, {"Transfer-Encoding", "CHUNKED"}}, 11, 0, ""},
      {{{"Host", "x"}, {"Transfer-Encoding", " chunked ,"}}, 11, 0, ""},  // empty elements
      {{{"Host", "x"}, {"Transfer-Encoding", "chunked, chunked"}}, 11, 400, "transfer_encoding"},
      {{{"Host", "x"}, {"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}},
       11,
       400,
       "transfer_encoding"},
      {{{"Host", "x"}, {"Transfer-Encoding", ""}}, 11, 400, "transfer_encoding"},
      {{{"Host", "x"}, {"Transfer-Encoding", "gzip"}}, 11, 501, "transfer_coding"},
      {{{"Host", "x"}, {"Transfer-Encoding", "gzip, chunked"}}, 11, 501, "transfer_coding"},
      {{{"Host", "x"}, {"Transfer-Encoding", "deflate"}}, 11, 501, "transfer_coding"},
      {{{"Host", "x"}, {"Transfer-Encoding", "compress"}}, 11, 501, "transfer_coding"},
      {{{"Host", "x"}, {"Transfer-Encoding", "x-unknown"}}, 11, 501, "transfer_coding"},
      {{{"Host", "x"}, {"Transfer-Encoding", "chunked, gzip"}}, 11, 501, "transfer_coding"},
      {{{"Host", "x"}, {"Transfer-Encoding", "identity"}}, 11, 501, "transfer_coding"},
      {{{"Host", "x"}, {"Transfer-Encoding", "gzip"}, {"Content-Length", "3"}},
       11,
       400,
       "transfer_encoding"},
      {{{"Host", "x"}, {"Transfer-Encoding", "chunked"}, {"Content-Length", "3"}},
       11,
       400,
       "transfer_encoding"},
      {{{"Transfer-Encoding", "chunked"}}, 10, 400, "transfer_encoding"},
      {{{"Host", "x"}, {"Transfer-Encoding", "chunked"}}, 10, 400, "transfer_encoding"},
      {{}, 11, 400, "host"},
      {{{"Content-Length", "2"}}, 11, 400, "host"},
      {{{"Host", "a"}, {"Host", "b"}}, 11, 400, "host"},
      {{}, 10, 0, ""},  // HTTP/1.0 needs no Host
      {{{"Host", "x"}, {"Expect", "100-continue"}}, 11, 0, ""},
      {{{"Host", "x"}, {"Expect", "100-Continue"}}, 11, 0, ""},
      {{{"Host", "x"}, {"Expect", "foo"}}, 11, 417, "expectation"},
      {{{"Host", "x"}, {"Expect", "100-continue, foo"}}, 11, 417, "expectation"},
      {{{"Host", "x"}, {"Expect", "100-continue"}, {"Expect", "bar"}}, 11, 417, "expectation"},
      {{{"Host", "x"}, {"Expect", ""}}, 11, 417, "expectation"},
  };
  for (const auto& c : cases) {
    auto h = head(c.fields, c.version);
    std::ostringstream trace;
    trace << h.base();
    SCOPED_TRACE(trace.str());
    auto r = check_request_head(h);
    if (c.status == 0) {
      EXPECT_FALSE(r) << r->message;
      continue;
    }
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, c.status);
    EXPECT_EQ(r->kind, c.kind);
    EXPECT_FALSE(r->message.empty());
  }
}

TEST(RequestFraming, MessagesSayWhatIsWrong) {
  auto gzip = check_request_head(head({{"Host", "x"}, {"Transfer-Encoding", "gzip"}}));
  ASSERT_TRUE(gzip);
  EXPECT_NE(gzip->message.find("Transfer-Encoding: only chunked is supported"), std::string::npos);
  EXPECT_NE(gzip->message.find("\"gzip\""), std::string::npos);
  auto twice = check_request_head(head({{"Host", "x"}, {"Transfer-Encoding", "chunked, chunked"}}));
  ASSERT_TRUE(twice);
  EXPECT_NE(twice->message.find("once"), std::string::npos);
  auto both = check_request_head(
      head({{"Host", "x"}, {"Transfer-Encoding", "chunked"}, {"Content-Length", "1"}}));
  ASSERT_TRUE(both);
  EXPECT_NE(both->message.find("Content-Length"), std::string::npos);
  // A long coding is cut in the message.
  auto longer =
      check_request_head(head({{"Host", "x"}, {"Transfer-Encoding", std::string(500, 'z')}}));
  ASSERT_TRUE(longer);
  EXPECT_LT(longer->message.size(), 200u);
}

// Parses `raw` with Beast as the session does; the error and what the parser kept.
std::pair<beast::error_code, std::optional<HeadRefusal>> parse(const std::string& raw) {
  http::request_parser<http::string_body> p;
  beast::error_code ec;
  p.put(boost::asio::buffer(raw), ec);
  return {ec, explain_parse_error(ec, p.get().base())};
}

TEST(RequestFraming, BeastFramingErrorsAreExplained) {
  // Content-Length then Transfer-Encoding: Beast stops at the second.
  auto [ec1, r1] = parse(
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n");
  EXPECT_EQ(ec1, http::error::bad_transfer_encoding);
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->status, 400);
  EXPECT_NE(r1->message.find("Content-Length"), std::string::npos);
  // chunked then Content-Length.
  auto [ec2, r2] = parse(
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n");
  EXPECT_EQ(ec2, http::error::bad_content_length);
  ASSERT_TRUE(r2);
  EXPECT_NE(r2->message.find("Content-Length"), std::string::npos);
  // chunked in two fields.
  auto [ec3, r3] = parse(
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
      "chunked\r\n\r\n");
  EXPECT_EQ(ec3, http::error::bad_transfer_encoding);
  ASSERT_TRUE(r3);
  EXPECT_NE(r3->message.find("once"), std::string::npos);
  // A bad Content-Length alone is Beast's own error.
  auto [ec4, r4] = parse("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n");
  EXPECT_EQ(ec4, http::error::bad_content_length);
  EXPECT_FALSE(r4);
}

TEST(RequestFraming, BeastLetsTheseThroughSoTheyAreOurs) {
  // Why check_request_head exists: Beast takes these heads without an error.
  for (const std::string te : {"chunked, chunked", "gzip"}) {
    http::request_parser<http::string_body> p;
    beast::error_code ec;
    std::string raw = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + te + "\r\n\r\nBODY";
    p.put(boost::asio::buffer(raw), ec);
    EXPECT_FALSE(ec) << te;
    EXPECT_TRUE(p.is_header_done()) << te;
    EXPECT_FALSE(p.chunked()) << te;  // no body as far as Beast is concerned
    EXPECT_TRUE(check_request_head(p.get().base())) << te;
  }
}

TEST(RequestFraming, ObsFoldIsALineFeedFollowedByWhitespace) {
  EXPECT_FALSE(has_obs_fold(""));
  EXPECT_FALSE(has_obs_fold("GET / HTTP/1.1\r\n"));
  EXPECT_FALSE(has_obs_fold("Host: x\r\nA: b c\r\n"));
  EXPECT_TRUE(has_obs_fold("X-A: one\r\n two\r\n"));
  EXPECT_TRUE(has_obs_fold("X-A: one\r\n\ttwo\r\n"));
  EXPECT_FALSE(has_obs_fold("X-A: one\r\n"));  // the next byte is not here
}

TEST(RequestFraming, FoldWatchingBufferSeesAFoldBeastUnfolds) {
  for (const auto& [raw, folded] : std::vector<std::pair<std::string, bool>>{
           {"GET / HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n", true},
           {"GET / HTTP/1.1\r\nHost: x\r\nX-A: one\r\n\ttwo\r\n\r\n", true},
           {"GET / HTTP/1.1\r\nHost: x\r\nX-A: one two\r\n\r\n", false},
       }) {
    SCOPED_TRACE(raw);
    beast::flat_buffer b;
    FoldWatchingBuffer w(b);
    http::request_parser<http::string_body> p;
    // Fed a byte at a time, as a slow client sends it.
    beast::error_code ec;
    for (char c : raw) {
      auto dst = w.prepare(1);
      *static_cast<char*>(dst.data()) = c;
      w.commit(1);
      size_t used = p.put(w.data(), ec);
      w.consume(used);
      if (ec && ec != http::error::need_more) break;
      if (p.is_header_done()) break;
    }
    EXPECT_FALSE(ec && ec != http::error::need_more) << ec.message();
    EXPECT_TRUE(p.is_header_done());
    EXPECT_EQ(w.folded(), folded);
    EXPECT_EQ(p.get()["X-A"], "one two");  // what Beast makes of it either way
  }
}

}  // namespace
}  // namespace metricsd::server
