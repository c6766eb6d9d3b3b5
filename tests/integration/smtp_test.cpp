// The SMTP client (notify/smtp_client) against the local test sink: delivery over
// STARTTLS, implicit TLS and plain loopback with the envelope, headers and body intact;
// certificate, STARTTLS and AUTH refusals; 4xx/5xx replies as temporary/permanent; the
// one deadline against a server that never answers or a name that does not resolve;
// messages refused before connecting; and the URL forms.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <openssl/evp.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>

#include "harness.hpp"
#include "notify/smtp_client.hpp"
#include "smtp_sink.hpp"
#include "tls_client.hpp"

namespace metricsd::test {
namespace {

using namespace std::chrono_literals;
using notify::EmailMessage;
using notify::parse_smtp_url;
using notify::send_email;
using notify::SmtpOutcome;
using notify::SmtpServer;
using notify::SmtpTls;
using Clock = std::chrono::steady_clock;

// A self-signed certificate for 127.0.0.1 (its SAN) in a directory of its own.
class TestCertificate {
 public:
  TestCertificate()
      : cert_((dir_.path() / "cert.pem").string()), key_((dir_.path() / "key.pem").string()) {
    make_self_signed(cert_, key_, "metricsd smtp test");
  }
  const std::string& cert() const { return cert_; }
  // A sink serving this certificate (STARTTLS unless told otherwise).
  SmtpSinkOptions sink_options() const {
    SmtpSinkOptions options;
    options.cert_file = cert_;
    options.key_file = key_;
    return options;
  }

 private:
  TempDir dir_;
  std::string cert_, key_;
};

SmtpServer server_for(const SmtpSink& sink, SmtpTls tls, const std::string& ca_file = "") {
  SmtpServer s;
  s.host = "127.0.0.1";
  s.port = std::to_string(sink.port());
  s.tls = tls;
  s.ca_file = ca_file;
  s.timeout = 10s;
  return s;
}

EmailMessage alert() {
  EmailMessage m;
  m.from = "metricsd <alerts@example.com>";
  m.to = {"oncall@example.com", "team@example.com"};
  m.subject = "GPU 81 °C";
  m.body =
      "GPU 3 on node-7 is at 81 °C.\n.a line that starts with a dot\n.\n..two dots\nno newline";
  return m;
}

// What alert()'s body must arrive as: CRLF line ends, the dots as written.
const std::string kAlertBody =
    "GPU 3 on node-7 is at 81 °C.\r\n.a line that starts with a dot\r\n.\r\n..two dots\r\n"
    "no newline\r\n";

// The value of header `name` in a message's data, folded lines joined; nullopt if absent.
std::optional<std::string> header(const std::string& data, const std::string& name) {
  const std::string head = "\r\n" + data.substr(0, data.find("\r\n\r\n") + 2);
  size_t at = head.find("\r\n" + name + ": ");
  if (at == std::string::npos) return std::nullopt;
  at += name.size() + 4;
  std::string value;
  for (size_t end = head.find("\r\n", at);; end = head.find("\r\n", at)) {
    value += head.substr(at, end - at);
    if (end + 2 >= head.size() || (head[end + 2] != ' ' && head[end + 2] != '\t')) break;
    at = end + 2;
  }
  return value;
}

std::string body_of(const std::string& data) {
  const size_t blank = data.find("\r\n\r\n");
  return blank == std::string::npos ? "" : data.substr(blank + 4);
}

bool has_bare_line_feed(const std::string& data) {
  for (size_t i = 0; i < data.size(); ++i)
    if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r')) return true;
  return false;
}

// An IPv4 address of this machine outside 127/8, if it has one that is up.
std::optional<std::string> non_loopback_ipv4() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return std::nullopt;
  std::optional<std::string> found;
  for (ifaddrs* i = list; i && !found; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
        (i->ifa_flags & IFF_LOOPBACK))
      continue;
    char text[INET_ADDRSTRLEN] = {};
    const auto* in = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
    if (inet_ntop(AF_INET, &in->sin_addr, text, sizeof text)) found = text;
  }
  freeifaddrs(list);
  return found;
}

TEST(Smtp, StartTlsWithAuthPlainDeliversOneMailWithItsEnvelopeHeadersAndBody) {
  TestCertificate cert;
  SmtpSinkOptions options = cert.sink_options();
  options.require_tls = true;
  options.user = "alerts";
  options.password = "s3cret";
  SmtpSink sink(options);
  SmtpServer server = server_for(sink, SmtpTls::kStartTls, cert.cert());
  server.username = "alerts";
  server.password = "s3cret";

  const SmtpOutcome outcome = send_email(server, alert());
  ASSERT_TRUE(outcome.ok) << outcome.detail;
  EXPECT_TRUE(outcome.detail.starts_with("250 2.0.0 queued as")) << outcome.detail;
  ASSERT_TRUE(sink.wait_for(1, 5s));
  const auto mails = sink.messages();
  ASSERT_EQ(mails.size(), 1u);
  const auto& mail = mails[0];
  EXPECT_EQ(mail.from, "alerts@example.com");
  EXPECT_EQ(mail.to, (std::vector<std::string>{"oncall@example.com", "team@example.com"}));
  EXPECT_TRUE(mail.tls);
  EXPECT_EQ(mail.auth_user, "alerts");

  EXPECT_EQ(header(mail.data, "From"), "metricsd <alerts@example.com>");
  EXPECT_EQ(header(mail.data, "To"), "oncall@example.com, team@example.com");
  EXPECT_EQ(header(mail.data, "Subject"), "=?UTF-8?B?R1BVIDgxIMKwQw==?=");  // "GPU 81 °C"
  EXPECT_EQ(header(mail.data, "MIME-Version"), "1.0");
  EXPECT_EQ(header(mail.data, "Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(header(mail.data, "Content-Transfer-Encoding"), "8bit");
  const std::regex date(
      R"((Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) )"
      R"(\d{4} \d\d:\d\d:\d\d \+0000)");
  EXPECT_TRUE(std::regex_match(header(mail.data, "Date").value_or(""), date)) << mail.data;
  EXPECT_TRUE(std::regex_match(header(mail.data, "Message-ID").value_or(""),
                               std::regex("<[0-9a-f]{32}@metricsd>")))
      << mail.data;
  EXPECT_EQ(body_of(mail.data), kAlertBody);
  EXPECT_FALSE(has_bare_line_feed(mail.data)) << mail.data;

  // Every send is a message of its own.
  ASSERT_TRUE(send_email(server, alert()).ok);
  ASSERT_TRUE(sink.wait_for(2, 5s));
  EXPECT_NE(header(sink.messages()[1].data, "Message-ID"), header(mail.data, "Message-ID"));
}

// The text of RFC 2047 "=?UTF-8?B?...?=" words, folded or not; "" on anything else.
std::string decode_encoded_words(const std::string& value) {
  static const std::regex word(R"(=\?UTF-8\?B\?([A-Za-z0-9+/=]+)\?=)");
  std::string out;
  for (auto it = std::sregex_iterator(value.begin(), value.end(), word);
       it != std::sregex_iterator(); ++it) {
    const std::string b64 = (*it)[1];
    std::string bytes(b64.size(), '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                                  reinterpret_cast<const unsigned char*>(b64.data()),
                                  static_cast<int>(b64.size()));
    if (n < 0) return "";
    const size_t padding = b64.size() - b64.find_last_not_of('=') - 1;
    out += bytes.substr(0, static_cast<size_t>(n) - padding);
  }
  return out;
}

TEST(Smtp, LongNonAsciiSubjectIsFoldedIntoWholeCharacters) {
  SmtpSink sink;
  EmailMessage m = alert();
  m.subject = "Température GPU élevée sur node-7: ";
  for (int i = 0; i < 20; ++i)
    m.subject += "°C ✓ ";
  const SmtpOutcome outcome = send_email(server_for(sink, SmtpTls::kNone), m);
  ASSERT_TRUE(outcome.ok) << outcome.detail;
  ASSERT_EQ(sink.messages().size(), 1u);
  const std::string data = sink.messages()[0].data;
  const size_t start = data.find("\r\nSubject: ") + 2;
  size_t lines = 0;
  for (size_t at = start, end; (end = data.find("\r\n", at)) != std::string::npos; at = end + 2) {
    if (at != start && data[at] != ' ') break;  // the next header field
    EXPECT_LE(end - at, 78u) << data.substr(at, end - at);
    ++lines;
  }
  EXPECT_GT(lines, 2u) << data;
  const auto value = header(data, "Subject");
  ASSERT_TRUE(value);
  EXPECT_EQ(decode_encoded_words(*value), m.subject) << *value;
  // Each word decodes to whole UTF-8 characters: none starts with a continuation byte.
  const std::regex word(R"(=\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=)");
  for (std::sregex_iterator it(value->begin(), value->end(), word); it != std::sregex_iterator();
       ++it) {
    const std::string text = decode_encoded_words(it->str());
    ASSERT_FALSE(text.empty());
    EXPECT_NE(static_cast<unsigned char>(text[0]) & 0xc0, 0x80) << it->str();
  }
}

TEST(Smtp, AuthLoginWhenTheServerOffersNoPlain) {
  TestCertificate cert;
  SmtpSinkOptions options = cert.sink_options();
  options.user = "alerts";
  options.password = "s3cret";
  options.auth_mechanisms = "LOGIN CRAM-MD5";
  SmtpSink sink(options);
  SmtpServer server = server_for(sink, SmtpTls::kStartTls, cert.cert());
  server.username = "alerts";
  server.password = "s3cret";
  const SmtpOutcome outcome = send_email(server, alert());
  ASSERT_TRUE(outcome.ok) << outcome.detail;
  ASSERT_EQ(sink.messages().size(), 1u);
  EXPECT_EQ(sink.messages()[0].auth_user, "alerts");
}

TEST(Smtp, ImplicitTlsDelivers) {
  TestCertificate cert;
  SmtpSinkOptions options = cert.sink_options();
  options.implicit_tls = true;
  SmtpSink sink(options);
  const SmtpOutcome outcome =
      send_email(server_for(sink, SmtpTls::kImplicit, cert.cert()), alert());
  ASSERT_TRUE(outcome.ok) << outcome.detail;
  ASSERT_EQ(sink.messages().size(), 1u);
  EXPECT_TRUE(sink.messages()[0].tls);
  EXPECT_EQ(body_of(sink.messages()[0].data), kAlertBody);
}

TEST(Smtp, PlainToLoopbackDeliversAndMayAuthenticate) {
  SmtpSinkOptions options;
  options.user = "relay";
  options.password = "pw";
  SmtpSink sink(options);
  SmtpServer server = server_for(sink, SmtpTls::kNone);
  server.username = "relay";
  server.password = "pw";
  const SmtpOutcome outcome = send_email(server, alert());
  ASSERT_TRUE(outcome.ok) << outcome.detail;
  ASSERT_EQ(sink.messages().size(), 1u);
  EXPECT_FALSE(sink.messages()[0].tls);
  EXPECT_EQ(sink.messages()[0].auth_user, "relay");
  EXPECT_EQ(body_of(sink.messages()[0].data), kAlertBody);
}

TEST(Smtp, NoCredentialsWithoutTlsToAnotherMachine) {
  const auto address = non_loopback_ipv4();
  if (!address) GTEST_SKIP() << "no non-loopback IPv4 address on this machine";
  SmtpSinkOptions options;
  options.user = "relay";
  options.password = "pw";
  options.address = *address;
  SmtpSink sink(options);
  SmtpServer server = server_for(sink, SmtpTls::kNone);
  server.host = *address;
  server.username = "relay";
  server.password = "pw";
  const SmtpOutcome outcome = send_email(server, alert());
  EXPECT_FALSE(outcome.ok);
  EXPECT_TRUE(outcome.permanent);
  EXPECT_NE(outcome.detail.find("refusing to send credentials without TLS"), std::string::npos)
      << outcome.detail;
  EXPECT_EQ(sink.connections(), 1u);
  EXPECT_TRUE(sink.messages().empty());
}

TEST(Smtp, RequireTlsRefusesMailInClearText) {
  TestCertificate cert;
  SmtpSinkOptions options = cert.sink_options();
  options.require_tls = true;
  SmtpSink sink(options);
  const SmtpOutcome outcome = send_email(server_for(sink, SmtpTls::kNone), alert());
  EXPECT_FALSE(outcome.ok);
  EXPECT_TRUE(outcome.permanent);
  EXPECT_TRUE(outcome.detail.starts_with("MAIL FROM:<alerts@example.com>: 530")) << outcome.detail;
}

TEST(Smtp, UntrustedCertificateFailsAsPermanent) {
  TestCertificate cert;
  SmtpSink sink(cert.sink_options());
  // The system's trust store does not know the sink's self-signed certificate.
  const SmtpOutcome outcome = send_email(server_for(sink, SmtpTls::kStartTls), alert());
  EXPECT_FALSE(outcome.ok);
  EXPECT_TRUE(outcome.permanent);
  EXPECT_TRUE(outcome.detail.starts_with(
      "TLS handshake with 127.0.0.1:" + std::to_string(sink.port()) + ": certificate refused: "))
      << outcome.detail;
  EXPECT_NE(outcome.detail.find("self-signed"), std::string::npos) << outcome.detail;
  EXPECT_TRUE(sink.messages().empty());
}

TEST(Smtp, CertificateForAnotherNameFailsUnlessVerificationIsOff) {
  TestCertificate cert;  // for IP 127.0.0.1, not for the name "localhost"
  SmtpSinkOptions options = cert.sink_options();
  options.implicit_tls = true;
  SmtpSink sink(options);
  SmtpServer server = server_for(sink, SmtpTls::kImplicit, cert.cert());
  server.host = "localhost";
  const SmtpOutcome refused = send_email(server, alert());
  EXPECT_FALSE(refused.ok);
  EXPECT_TRUE(refused.permanent);
  EXPECT_NE(refused.detail.find("certificate refused: hostname mismatch"), std::string::npos)
      << refused.detail;

  server.verify = false;
  server.ca_file = "";
  const SmtpOutcome sent = send_email(server, alert());
  EXPECT_TRUE(sent.ok) << sent.detail;
  EXPECT_EQ(sink.messages().size(), 1u);
}

TEST(Smtp, ServerWithoutStartTlsFailsForSmtpUrls) {
  SmtpSink sink;
  const SmtpOutcome outcome = send_email(server_for(sink, SmtpTls::kStartTls), alert());
  EXPECT_FALSE(outcome.ok);
  EXPECT_TRUE(outcome.permanent);
  EXPECT_TRUE(outcome.detail.starts_with("STARTTLS: 127.0.0.1:")) << outcome.detail;
  EXPECT_NE(outcome.detail.find("does not offer STARTTLS"), std::string::npos) << outcome.detail;
  EXPECT_TRUE(sink.messages().empty());
}

TEST(Smtp, WrongPasswordIsPermanent535) {
  TestCertificate cert;
  SmtpSinkOptions options = cert.sink_options();
  options.user = "alerts";
  options.password = "right";
  SmtpSink sink(options);
  SmtpServer server = server_for(sink, SmtpTls::kStartTls, cert.cert());
  server.username = "alerts";
  server.password = "wrong";
  const SmtpOutcome outcome = send_email(server, alert());
  EXPECT_FALSE(outcome.ok);
  EXPECT_TRUE(outcome.permanent);
  EXPECT_TRUE(outcome.detail.starts_with("AUTH PLAIN: 535 5.7.8")) << outcome.detail;
  EXPECT_EQ(outcome.detail.find("wrong"), std::string::npos) << outcome.detail;
  EXPECT_TRUE(sink.messages().empty());
}

TEST(Smtp, RefusedRecipientIsPermanentOn5xxAndTemporaryOn4xx) {
  for (const int code : {550, 451}) {
    SmtpSinkOptions options;
    options.rcpt_reply = code;
    SmtpSink sink(options);
    const SmtpOutcome outcome = send_email(server_for(sink, SmtpTls::kNone), alert());
    EXPECT_FALSE(outcome.ok) << code;
    EXPECT_EQ(outcome.permanent, code == 550) << code;
    EXPECT_TRUE(
        outcome.detail.starts_with("RCPT TO:<oncall@example.com>: " + std::to_string(code) + " "))
        << outcome.detail;
    EXPECT_TRUE(sink.messages().empty());
  }
}

TEST(Smtp, RefusedDataIsPermanentOn554AndTemporaryOn451) {
  for (const int code : {554, 451}) {
    SmtpSinkOptions options;
    options.data_reply = code;
    SmtpSink sink(options);
    const SmtpOutcome outcome = send_email(server_for(sink, SmtpTls::kNone), alert());
    EXPECT_FALSE(outcome.ok) << code;
    EXPECT_EQ(outcome.permanent, code == 554) << code;
    EXPECT_TRUE(outcome.detail.starts_with("end of DATA: " + std::to_string(code) + " "))
        << outcome.detail;
  }
}

TEST(Smtp, HangingServerFailsWithinTheDeadline) {
  SmtpSinkOptions options;
  options.hang = true;
  SmtpSink sink(options);
  SmtpServer server = server_for(sink, SmtpTls::kStartTls);
  server.timeout = 500ms;
  const auto start = Clock::now();
  const SmtpOutcome outcome = send_email(server, alert());
  const auto took = Clock::now() - start;
  EXPECT_LT(took, 3s);
  EXPECT_GE(took, 450ms);
  EXPECT_FALSE(outcome.ok);
  EXPECT_FALSE(outcome.permanent);
  EXPECT_EQ(outcome.detail,
            "greeting from 127.0.0.1:" + std::to_string(sink.port()) + ": timed out after 500 ms");

  // The same in a TLS handshake that never gets an answer.
  server.tls = SmtpTls::kImplicit;
  const auto tls_start = Clock::now();
  const SmtpOutcome tls = send_email(server, alert());
  EXPECT_LT(Clock::now() - tls_start, 3s);
  EXPECT_FALSE(tls.ok);
  EXPECT_TRUE(tls.detail.starts_with("TLS handshake with 127.0.0.1:")) << tls.detail;
  EXPECT_TRUE(tls.detail.ends_with(": timed out after 500 ms")) << tls.detail;
}

TEST(Smtp, UnresolvableHostFailsWithinTheDeadline) {
  SmtpServer server;
  server.host = "no-such-host.invalid";  // RFC 6761: never resolves; DNS may also be down
  server.port = "587";
  server.timeout = 500ms;
  const auto start = Clock::now();
  const SmtpOutcome outcome = send_email(server, alert());
  EXPECT_LT(Clock::now() - start, 3s);
  EXPECT_FALSE(outcome.ok);
  EXPECT_TRUE(outcome.detail.starts_with("resolve no-such-host.invalid: ")) << outcome.detail;
}

TEST(Smtp, SinkClosesAHangingClientOnDestruction) {
  auto sink = std::make_unique<SmtpSink>();
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket client(io);
  client.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(sink->port())});
  for (int i = 0; i < 100 && sink->connections() == 0; ++i)
    std::this_thread::sleep_for(10ms);
  ASSERT_EQ(sink->connections(), 1u);
  const auto start = Clock::now();
  sink.reset();  // the client never says anything, nor closes
  EXPECT_LT(Clock::now() - start, 1s);
}

TEST(Smtp, LongLinesGoAsQuotedPrintable) {
  SmtpSink sink;
  EmailMessage m = alert();
  const std::string long_line(2500, 'x');
  m.body = "short\n" + long_line + "\n.dot\n";
  const SmtpOutcome outcome = send_email(server_for(sink, SmtpTls::kNone), m);
  ASSERT_TRUE(outcome.ok) << outcome.detail;
  ASSERT_EQ(sink.messages().size(), 1u);
  const std::string data = sink.messages()[0].data;
  EXPECT_EQ(header(data, "Content-Transfer-Encoding"), "quoted-printable");
  std::string body = body_of(data);
  for (size_t at = 0, end; (end = body.find("\r\n", at)) != std::string::npos; at = end + 2)
    EXPECT_LE(end - at, 76u);
  for (size_t soft; (soft = body.find("=\r\n")) != std::string::npos;)
    body.erase(soft, 3);
  EXPECT_EQ(body, "short\r\n" + long_line + "\r\n.dot\r\n");
}

TEST(Smtp, UnusableMessagesThrowBeforeConnecting) {
  SmtpSink sink;
  const SmtpServer server = server_for(sink, SmtpTls::kNone);
  const auto refused = [&](const std::function<void(EmailMessage&)>& change) {
    EmailMessage m = alert();
    change(m);
    EXPECT_THROW(send_email(server, m), std::invalid_argument);
  };
  refused([](EmailMessage& m) { m.subject = "hi\r\nBcc: victim@example.com"; });
  refused([](EmailMessage& m) { m.subject = "line\nfeed"; });
  refused([](EmailMessage& m) { m.from = "metricsd <a@example.com>\r\nBcc: v@example.com"; });
  refused([](EmailMessage& m) { m.to = {"oncall@example.com\r\nRCPT TO:<v@example.com>"}; });
  refused([](EmailMessage& m) { m.to.clear(); });
  refused([](EmailMessage& m) { m.to = {"oncall.example.com"}; });
  refused([](EmailMessage& m) { m.from = "metricsd <alerts>"; });
  refused([](EmailMessage& m) { m.from = ""; });
  refused([](EmailMessage& m) { m.to = {"two words@example.com"}; });
  SmtpServer bad_helo = server;
  bad_helo.helo = "metricsd\r\nRSET";
  EXPECT_THROW(send_email(bad_helo, alert()), std::invalid_argument);
  EXPECT_EQ(sink.connections(), 0u);

  // A bare address and a quoted display name are fine.
  EmailMessage m = alert();
  m.from = "alerts@example.com";
  EXPECT_TRUE(send_email(server, m).ok);
  m.from = "\"metricsd, node-7\" <alerts@example.com>";
  EXPECT_TRUE(send_email(server, m).ok);
  ASSERT_EQ(sink.messages().size(), 2u);
  EXPECT_EQ(header(sink.messages()[0].data, "From"), "alerts@example.com");
  EXPECT_EQ(header(sink.messages()[1].data, "From"), "\"metricsd, node-7\" <alerts@example.com>");
}

TEST(Smtp, ParseSmtpUrlAcceptsTheThreeSchemes) {
  struct Case {
    std::string url, host, port;
    SmtpTls tls;
  };
  const Case cases[] = {
      {"smtp://mail.example.com", "mail.example.com", "587", SmtpTls::kStartTls},
      {"smtp://mail.example.com:2525", "mail.example.com", "2525", SmtpTls::kStartTls},
      {"SMTP://Mail.Example.com:25/", "Mail.Example.com", "25", SmtpTls::kStartTls},
      {"smtps://mail.example.com", "mail.example.com", "465", SmtpTls::kImplicit},
      {"smtps://10.0.0.5:4650", "10.0.0.5", "4650", SmtpTls::kImplicit},
      {"smtp+plain://localhost", "localhost", "25", SmtpTls::kNone},
      {"smtp+plain://[::1]:2525", "::1", "2525", SmtpTls::kNone},
  };
  for (const auto& c : cases) {
    const SmtpServer s = parse_smtp_url(c.url);
    EXPECT_EQ(s.host, c.host) << c.url;
    EXPECT_EQ(s.port, c.port) << c.url;
    EXPECT_EQ(s.tls, c.tls) << c.url;
    EXPECT_TRUE(s.username.empty()) << c.url;
    EXPECT_TRUE(s.verify) << c.url;
  }
}

TEST(Smtp, ParseSmtpUrlRefusesWhatItCannotUse) {
  const std::pair<std::string, std::string> cases[] = {
      {"http://mail.example.com", "unsupported scheme 'http'"},
      {"mail.example.com:25", "not an smtp://"},
      {"smtp://", "no host"},
      {"smtp://:25", "no host"},
      {"smtp://mail.example.com:0", "bad port"},
      {"smtp://mail.example.com:65536", "bad port"},
      {"smtp://mail.example.com:smtp", "bad port"},
      {"smtp://mail.example.com:", "bad port"},
      {"smtp://mail.example.com/path", "nothing may follow"},
      {"smtp://mail.example.com?x=1", "nothing may follow"},
      {"smtp://::1:25", "brackets"},
      {"smtp://[::1:25", "unclosed"},
      {"smtp://mail example.com", "bad host"},
      {"smtp://alerts:hunter2@mail.example.com", "user name or password"},
      {"smtps://alerts@mail.example.com:465", "user name or password"},
  };
  for (const auto& [url, expected] : cases) {
    try {
      parse_smtp_url(url);
      ADD_FAILURE() << url << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << url << ": " << e.what();
      EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace metricsd::test
