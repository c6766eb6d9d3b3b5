// notify::http_post against real local receivers (WebhookReceiver, plain and TLS, and bare
// listeners that never answer): what arrives, how statuses, Retry-After, failures and the one
// deadline come back, and what validate_webhook_url / validate_webhook_header accept.
#include "notify/http_post.hpp"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "harness.hpp"
#include "tls_client.hpp"
#include "webhook_receiver.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
using notify::http_post;
using notify::PostOutcome;
using notify::PostRequest;
using Clock = std::chrono::steady_clock;
using tcp = boost::asio::ip::tcp;

PostRequest post_to(const std::string& url, std::string body = R"({"alert":"disk_full"})") {
  PostRequest r;
  r.url = url;
  r.body = std::move(body);
  return r;
}

// A loopback listener that completes TCP handshakes (the kernel does, from the backlog) and
// never accepts, reads or answers.
class SilentListener {
 public:
  SilentListener() : acceptor_(io_, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)) {}
  int port() const { return acceptor_.local_endpoint().port(); }

 private:
  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
};

// A port on 127.0.0.1 where nothing listens (it did a moment ago).
int closed_port() {
  boost::asio::io_context io;
  tcp::acceptor a(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

TEST(HttpPost, DeliversBodyAndHeadersExactly) {
  WebhookReceiver receiver({.reply_body = "thanks"});
  PostRequest req = post_to(receiver.url("/hooks/abc?tenant=7&x=%20y"));
  req.headers = {{"X-Metricsd-Signature", "sha256=00ff"}, {"Authorization", "Bearer t0k"}};
  const PostOutcome out = http_post(req);

  EXPECT_EQ(out.status, 200) << out.error;
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(out.body, "thanks");
  EXPECT_EQ(out.retry_after, "");
  EXPECT_LT(out.elapsed, 5000ms);
  ASSERT_EQ(receiver.received().size(), 1u);
  const auto got = receiver.received()[0];
  EXPECT_EQ(got.method, "POST");
  EXPECT_EQ(got.target, "/hooks/abc?tenant=7&x=%20y");
  EXPECT_EQ(got.body, R"({"alert":"disk_full"})");
  EXPECT_EQ(got.headers.at("content-type"), "application/json");
  EXPECT_EQ(got.headers.at("user-agent"), "metricsd");
  EXPECT_EQ(got.headers.at("x-metricsd-signature"), "sha256=00ff");
  EXPECT_EQ(got.headers.at("authorization"), "Bearer t0k");
  EXPECT_EQ(got.headers.at("host"), "127.0.0.1:" + std::to_string(receiver.port()));
  EXPECT_EQ(got.headers.at("connection"), "close");
  EXPECT_EQ(got.headers.at("content-length"), std::to_string(req.body.size()));
  EXPECT_EQ(got.headers.count("transfer-encoding"), 0u);
}

TEST(HttpPost, GivenContentTypeAndUserAgentReplaceTheDefaults) {
  WebhookReceiver receiver;
  PostRequest req = post_to(receiver.url(), "plain words");
  req.headers = {{"content-type", "text/plain; charset=utf-8"}, {"User-Agent", "custom/1"}};
  EXPECT_EQ(http_post(req).status, 200);
  ASSERT_TRUE(receiver.wait_for(1, 2s));
  const auto got = receiver.received()[0];
  EXPECT_EQ(got.headers.at("content-type"), "text/plain; charset=utf-8");  // once, not joined
  EXPECT_EQ(got.headers.at("user-agent"), "custom/1");
  EXPECT_EQ(got.body, "plain words");
}

TEST(HttpPost, ServerErrorComesBackAsStatusWithBody) {
  WebhookReceiver receiver({.status = 500, .reply_body = "database is down"});
  const PostOutcome out = http_post(post_to(receiver.url()));
  EXPECT_EQ(out.status, 500);
  EXPECT_EQ(out.body, "database is down");
  EXPECT_EQ(out.error, "");
  EXPECT_EQ(receiver.received().size(), 1u);
}

TEST(HttpPost, TooManyRequestsReportsRetryAfterAndStatusCanChange) {
  WebhookReceiver receiver({.status = 429, .reply_headers = {{"Retry-After", "30"}}});
  PostOutcome out = http_post(post_to(receiver.url()));
  EXPECT_EQ(out.status, 429);
  EXPECT_EQ(out.retry_after, "30");
  EXPECT_EQ(out.error, "");

  receiver.set_status(200);
  out = http_post(post_to(receiver.url()));
  EXPECT_EQ(out.status, 200);
  EXPECT_EQ(receiver.received().size(), 2u);
}

TEST(HttpPost, NoContentReplyIsFine) {
  WebhookReceiver receiver({.status = 204});
  const PostOutcome out = http_post(post_to(receiver.url()));
  EXPECT_EQ(out.status, 204);
  EXPECT_EQ(out.body, "");
  EXPECT_EQ(out.error, "");
}

TEST(HttpPost, ChunkedReplyIsRead) {
  WebhookReceiver receiver({.reply_body = "chunked answer", .chunked = true});
  const PostOutcome out = http_post(post_to(receiver.url()));
  EXPECT_EQ(out.status, 200) << out.error;
  EXPECT_EQ(out.body, "chunked answer");
  EXPECT_EQ(out.error, "");
}

TEST(HttpPost, LongReplyIsCutNotFailed) {
  std::string long_body;
  for (int i = 0; long_body.size() < 300 * 1024; ++i)
    long_body += std::to_string(i) + ",";
  for (bool chunked : {false, true}) {
    WebhookReceiver receiver({.reply_body = long_body, .chunked = chunked});
    const PostOutcome out = http_post(post_to(receiver.url()));
    EXPECT_EQ(out.status, 200) << out.error;
    EXPECT_EQ(out.error, "");
    EXPECT_EQ(out.body, long_body.substr(0, 1024));
  }
}

TEST(HttpPost, ConnectionRefusedNamesTheStep) {
  const int port = closed_port();
  const PostOutcome out = http_post(post_to("http://127.0.0.1:" + std::to_string(port) + "/x"));
  EXPECT_EQ(out.status, 0);
  EXPECT_EQ(out.error, "connect 127.0.0.1:" + std::to_string(port) + ": Connection refused");
}

TEST(HttpPost, ReceiverThatNeverAnswersFailsWithinTheDeadline) {
  WebhookReceiver receiver({.hang = true});
  PostRequest req = post_to(receiver.url());
  req.timeout = 300ms;
  const auto start = Clock::now();
  const PostOutcome out = http_post(req);
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_EQ(out.status, 0);
  EXPECT_EQ(out.error, "read: timed out after 300 ms");
  EXPECT_GE(out.elapsed, 290ms);
  EXPECT_TRUE(receiver.wait_for(1, 2s));  // it did get the request
}

// One deadline over the whole exchange, not one per read: 20 ms a byte would take seconds.
TEST(HttpPost, ReplyOneByteAtATimeFailsWithinTheDeadline) {
  WebhookReceiver receiver({.reply_body = std::string(200, 'x'), .drip = 20ms});
  PostRequest req = post_to(receiver.url());
  req.timeout = 300ms;
  const auto start = Clock::now();
  const PostOutcome out = http_post(req);
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_NE(out.error.find("timed out after 300 ms"), std::string::npos) << out.error;
  EXPECT_EQ(out.error.rfind("read", 0), 0u) << out.error;
}

// The status line and headers (about 100 bytes) come in well before the deadline, the
// body (2000 bytes at 5 ms each) would not: the status stays, the error says the body broke off.
TEST(HttpPost, BodyCutOffByTheDeadlineKeepsTheStatus) {
  const std::string reply(2000, 'y');
  WebhookReceiver receiver({.reply_body = reply, .drip = 5ms});
  PostRequest req = post_to(receiver.url());
  req.timeout = 1500ms;
  const auto start = Clock::now();
  const PostOutcome out = http_post(req);
  EXPECT_LT(Clock::now() - start, 3s);
  EXPECT_EQ(out.status, 200) << out.error;
  EXPECT_EQ(out.error, "read body: timed out after 1500 ms");
  EXPECT_LT(out.body.size(), 1024u);
  EXPECT_EQ(out.body, reply.substr(0, out.body.size()));
}

TEST(HttpPost, LateAnswerWithinTheDeadlineSucceeds) {
  WebhookReceiver receiver({.delay = 200ms});
  PostRequest req = post_to(receiver.url());
  req.timeout = 3000ms;
  const PostOutcome out = http_post(req);
  EXPECT_EQ(out.status, 200) << out.error;
  EXPECT_GE(out.elapsed, 190ms);
}

TEST(HttpPost, TlsHandshakeThatNeverCompletesFailsWithinTheDeadline) {
  SilentListener listener;
  PostRequest req = post_to("https://127.0.0.1:" + std::to_string(listener.port()) + "/");
  req.timeout = 300ms;
  const auto start = Clock::now();
  const PostOutcome out = http_post(req);
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_EQ(out.status, 0);
  EXPECT_EQ(out.error, "tls handshake: timed out after 300 ms");
}

TEST(HttpPost, HttpsWithTrustedSelfSignedCertificate) {
  TempDir dir;
  const std::string cert = (dir.path() / "cert.pem").string();
  const std::string key = (dir.path() / "key.pem").string();
  make_self_signed(cert, key, "127.0.0.1");
  WebhookReceiver receiver({.reply_body = "secure thanks", .cert_file = cert, .key_file = key});
  ASSERT_EQ(receiver.url("/h").rfind("https://", 0), 0u);
  PostRequest req = post_to(receiver.url("/h"));
  req.ca_file = cert;
  const PostOutcome out = http_post(req);
  EXPECT_EQ(out.status, 200) << out.error;
  EXPECT_EQ(out.body, "secure thanks");
  ASSERT_EQ(receiver.received().size(), 1u);
  EXPECT_EQ(receiver.received()[0].body, req.body);
  EXPECT_EQ(receiver.received()[0].target, "/h");
}

TEST(HttpPost, HttpsWithUntrustedCertificateFailsClearly) {
  TempDir dir;
  const std::string cert = (dir.path() / "cert.pem").string();
  const std::string key = (dir.path() / "key.pem").string();
  make_self_signed(cert, key, "127.0.0.1");
  WebhookReceiver receiver({.cert_file = cert, .key_file = key});

  // The system trust store does not know the certificate.
  PostOutcome out = http_post(post_to(receiver.url()));
  EXPECT_EQ(out.status, 0);
  EXPECT_EQ(out.error.rfind("tls handshake: certificate verify failed", 0), 0u) << out.error;
  EXPECT_EQ(out.error.find('\n'), std::string::npos);

  // Trusted, but for 127.0.0.1 only: the name localhost does not match.
  PostRequest by_name = post_to("https://localhost:" + std::to_string(receiver.port()) + "/");
  by_name.ca_file = cert;
  out = http_post(by_name);
  EXPECT_EQ(out.status, 0);
  EXPECT_EQ(out.error.rfind("tls handshake: certificate verify failed", 0), 0u) << out.error;
  EXPECT_NE(out.error.find("mismatch"), std::string::npos) << out.error;
  EXPECT_TRUE(receiver.received().empty());

  // A CA file that does not exist is named.
  PostRequest missing = post_to(receiver.url());
  missing.ca_file = (dir.path() / "nope.pem").string();
  out = http_post(missing);
  EXPECT_EQ(out.status, 0);
  EXPECT_EQ(out.error.rfind("tls ca_file " + missing.ca_file + ": ", 0), 0u) << out.error;

  // verify = false accepts it.
  PostRequest insecure = post_to(receiver.url());
  insecure.verify = false;
  out = http_post(insecure);
  EXPECT_EQ(out.status, 200) << out.error;
  EXPECT_EQ(receiver.received().size(), 1u);
}

TEST(HttpPost, UnresolvableHostNamesTheStep) {
  PostRequest req = post_to("http://no-such-host.invalid/");
  req.timeout = 2000ms;
  const auto start = Clock::now();
  const PostOutcome out = http_post(req);
  EXPECT_LT(Clock::now() - start, 3s);
  EXPECT_EQ(out.status, 0);
  EXPECT_EQ(out.error.rfind("resolve no-such-host.invalid: ", 0), 0u) << out.error;
}

TEST(HttpPost, RefusedUrlOrHeaderThrowsBeforeAnyIo) {
  EXPECT_THROW(http_post(post_to("ftp://127.0.0.1/")), std::invalid_argument);
  EXPECT_THROW(http_post(post_to("http://user:pw@127.0.0.1/")), std::invalid_argument);
  PostRequest req = post_to("http://127.0.0.1:1/");
  req.headers = {{"X-Ok", "a\r\nX-Injected: 1"}};
  EXPECT_THROW(http_post(req), std::invalid_argument);
  req.headers = {{"Host", "elsewhere"}};
  EXPECT_THROW(http_post(req), std::invalid_argument);
  req.headers.clear();
  req.content_type = "application/json\r\nX-Injected: 1";
  EXPECT_THROW(http_post(req), std::invalid_argument);
}

// RFC 4231, test cases 1, 2 and 6 (a key longer than the block size).
TEST(HttpPost, HmacSha256MatchesRfc4231) {
  EXPECT_EQ(notify::hmac_sha256_hex(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(notify::hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(notify::hmac_sha256_hex(std::string(131, '\xaa'),
                                    "Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(HttpPost, ValidateWebhookUrlAcceptsAndRefuses) {
  const std::vector<std::string> good = {
      "http://example.com",
      "https://example.com:8443/hooks/abc?token=x#frag",
      "http://127.0.0.1:9/",
      "http://[::1]:8080/x",
      "HTTPS://hooks.slack.com/services/T0/B0/XYZ",
      "http://my_host.internal:65535/",
      "http://example.com/" + std::string(2048 - 19, 'a'),
  };
  for (const auto& url : good)
    EXPECT_NO_THROW(notify::validate_webhook_url(url)) << url;

  const std::vector<std::pair<std::string, std::string>> bad = {
      {"", "empty"},
      {"ftp://example.com/", "http:// or https://"},
      {"example.com/hook", "http:// or https://"},
      {"/relative/path", "http:// or https://"},
      {"http://exa\x01mple.com/", "not a valid absolute URL"},
      {"http://", "no host"},
      {"http:/path-only", "no host"},
      {"http://user:secret@example.com/", "user info"},
      {"http://user@example.com/", "user info"},
      {"http://example.com:0/", "port"},
      {"http://example.com:65536/", "port"},
      {"http://example.com:99999999999/", "port"},
      {"http://example.com:/", "port"},
      {"http://exa mple.com/", "not a valid absolute URL"},
      {"http://exa%0d%0aple.com/", "host name"},
      {"http://[v7.fe80::1]/", "host must be"},
      {"http://example.com/" + std::string(2048 - 18, 'a'), "2048"},
  };
  for (const auto& [url, why] : bad) {
    try {
      notify::validate_webhook_url(url);
      ADD_FAILURE() << "accepted " << url;
    } catch (const std::invalid_argument& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(why), std::string::npos) << url << " -> " << what;
      EXPECT_EQ(what.find("secret"), std::string::npos) << what;  // the URL is not repeated
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  }
}

TEST(HttpPost, ValidateWebhookHeaderAcceptsAndRefuses) {
  const std::vector<std::pair<std::string, std::string>> good = {
      {"X-Metricsd-Signature", "sha256=abc"},
      {"Authorization", "Bearer abc.def"},
      {"Content-Type", "text/plain"},
      {"User-Agent", "x"},
      {"X-Empty", ""},
      {"x!#$%&'*+-.^_`|~9", "tab\tand unicode \xc3\xa9"},
  };
  for (const auto& [name, value] : good)
    EXPECT_NO_THROW(notify::validate_webhook_header(name, value)) << name;

  const std::vector<std::tuple<std::string, std::string, std::string>> bad = {
      {"", "x", "empty"},
      {"Bad Name", "x", "'Bad Name' is not a token"},
      {"X-Colon:", "x", "'X-Colon:' is not a token"},
      {"X-\r\nInjected", "x", "'X-??Injected' is not a token"},
      {"Host", "elsewhere", "'Host' is set by the client"},
      {"content-length", "1", "'content-length' is set by the client"},
      {"Transfer-Encoding", "chunked", "'Transfer-Encoding' is set by the client"},
      {"CONNECTION", "keep-alive", "'CONNECTION' is set by the client"},
      {"X-Token", "secret\r\nX-Injected: 1", "'X-Token': the value holds CR, LF or NUL"},
      {"X-Token", "secret\nmore", "'X-Token'"},
      {"X-Token", std::string("secret\0more", 11), "'X-Token'"},
  };
  for (const auto& [name, value, why] : bad) {
    try {
      notify::validate_webhook_header(name, value);
      ADD_FAILURE() << "accepted " << name;
    } catch (const std::invalid_argument& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(why), std::string::npos) << name << " -> " << what;
      EXPECT_EQ(what.find("secret"), std::string::npos) << what;  // the value is not repeated
      EXPECT_EQ(what.find_first_of("\r\n"), std::string::npos) << what;
    }
  }
}

// A client that connects and sends half a request must not hold the receiver's destructor.
TEST(WebhookReceiver, StopsPromptlyWithAHungClient) {
  boost::asio::io_context io;
  tcp::socket client(io), second(io);  // outlive the receiver: still open at its destructor
  Clock::time_point start;
  {
    WebhookReceiver receiver({.hang = true});
    client.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                 static_cast<uint16_t>(receiver.port())));
    boost::asio::write(client, boost::asio::buffer(std::string("POST / HTTP/1.1\r\nHost: x\r\n")));
    // and one that sent a whole request, left unanswered
    second.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                 static_cast<uint16_t>(receiver.port())));
    boost::asio::write(second, boost::asio::buffer(std::string(
                                   "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")));
    ASSERT_TRUE(receiver.wait_for(1, 2s));
    start = Clock::now();
  }
  EXPECT_LT(Clock::now() - start, 1s);
}

}  // namespace
}  // namespace metricsd::test
