// The blocking SMTP client (see smtp_client.hpp). The conversation is one coroutine on a
// private io_context; a steady_timer set to the deadline closes the socket, which ends
// whatever operation is pending, so io_context::run() returns by the deadline whatever the
// server does. Name resolution cannot be cancelled that way (getaddrinfo blocks), so it
// runs on a thread of its own that the caller stops waiting for at the deadline.
#include "notify/smtp_client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <future>
#include <set>
#include <stdexcept>
#include <thread>
#include <tuple>

#include "notify/smtp_message.hpp"

namespace metricsd::notify {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// Note: no co_await in the condition of an if or while. GCC 12.2 miscompiles
// `if (!co_await f()) ...` in some coroutines (the completion resumes a wrong frame:
// SIGILL/SIGSEGV), so results are named first: `if (const bool ok = co_await f(); !ok)`.

// A whole reply, all its lines: far more than any server's EHLO list.
constexpr size_t kMaxReplyBytes = 64 * 1024;
constexpr size_t kMaxDetailBytes = 400;

std::string to_upper(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

bool is_ip_address(const std::string& host) {
  error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Server text for a log line: no control bytes (a reply could hold anything), bounded.
std::string one_line(std::string s) {
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  if (s.size() > kMaxDetailBytes) s = s.substr(0, kMaxDetailBytes) + "...";
  return s;
}

// A URL may hold a password before '@'; such a URL is not repeated in errors.
std::string shown(const std::string& url) {
  return url.find('@') == std::string::npos ? "'" + url + "'" : "(URL not shown: it holds '@')";
}

struct Resolved {
  std::vector<tcp::endpoint> endpoints;
  std::string error;  // empty on success
  bool timed_out = false;
};

// getaddrinfo() cannot be interrupted, so a lookup that outlives the deadline is left to
// finish on its detached thread (which then only drops its answer); the caller goes on.
Resolved resolve_before(const std::string& host, const std::string& port,
                        Clock::time_point deadline) {
  error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (!ec && !port.empty() && port.find_first_not_of("0123456789") == std::string::npos &&
      port.size() <= 5 && std::stoi(port) <= 65535)
    return {{tcp::endpoint(address, static_cast<uint16_t>(std::stoi(port)))}, "", false};
  auto promise = std::make_shared<std::promise<Resolved>>();
  std::future<Resolved> answer = promise->get_future();
  try {
    std::thread([promise, host, port] {
      Resolved r;
      asio::io_context io(1);
      tcp::resolver resolver(io);
      error_code error;
      const auto results = resolver.resolve(host, port, error);
      if (error)
        r.error = error.message();
      else
        for (const auto& entry : results)
          r.endpoints.push_back(entry.endpoint());
      promise->set_value(std::move(r));
    }).detach();
  } catch (const std::system_error& e) {
    return {{}, std::string("cannot start a resolver thread: ") + e.what(), false};
  }
  if (answer.wait_until(deadline) != std::future_status::ready) return {{}, "", true};
  return answer.get();
}

// One conversation: connect, (TLS,) greeting, EHLO, (STARTTLS, EHLO,) (AUTH,) MAIL, RCPT...,
// DATA, QUIT. Every step that fails records the outcome and returns false; the steps
// only run on the io_context's thread, as does on_deadline().
class Exchange {
 public:
  Exchange(asio::io_context& io, ssl::context& tls, const SmtpServer& server,
           const EmailMessage& message)
      : server_(server),
        message_(message),
        from_(parse_mailbox(message.from)),
        host_port_(
            (server.host.find(':') == std::string::npos ? server.host : "[" + server.host + "]") +
            ":" + server.port),
        stream_(io, tls) {}

  asio::awaitable<void> run(std::vector<tcp::endpoint> endpoints) {
    const bool delivered = co_await converse(std::move(endpoints));
    // A polite QUIT after an answer we did not like; after an I/O failure there is no one
    // to say it to.
    if (delivered || refused_) co_await quit();
    close();
  }

  // The deadline passed: end the pending operation (and every later one).
  void on_deadline() {
    timed_out_ = true;
    close();
  }

  const SmtpOutcome& outcome() const { return outcome_; }

 private:
  struct Reply {
    int code = 0;
    std::vector<std::string> lines;  // the text after "250-" / "250 "
    std::string text() const {
      std::string out = std::to_string(code);
      for (const auto& line : lines)
        if (!line.empty()) out += " " + line;
      return one_line(out);
    }
  };

  asio::awaitable<bool> converse(std::vector<tcp::endpoint> endpoints) {
    step_ = "connect " + host_port_;
    auto [ec, peer] = co_await asio::async_connect(stream_.lowest_layer(), endpoints, kTuple);
    if (ec) co_return fail_io(ec);
    // Credentials may go in clear text only to this machine (a local relay).
    loopback_ = peer.address().is_loopback();
    if (server_.tls == SmtpTls::kImplicit) {
      if (const bool ok = co_await handshake(); !ok) co_return false;
    }

    step_ = "greeting from " + host_port_;
    Reply reply;
    if (const bool ok = co_await read_reply(reply); !ok) co_return false;
    if (reply.code != 220) co_return fail_reply(reply);
    if (const bool ok = co_await hello(); !ok) co_return false;
    if (server_.tls == SmtpTls::kStartTls) {
      if (!extensions_.contains("STARTTLS"))
        co_return fail("STARTTLS: " + host_port_ +
                           " does not offer STARTTLS, which smtp:// requires (smtps:// is TLS "
                           "from the first byte)",
                       true);
      if (const bool ok = co_await command("STARTTLS", "STARTTLS", 2, reply); !ok) co_return false;
      // Anything already read was sent in clear text and could have been injected by a
      // man in the middle (CVE-2011-0411 style): refuse rather than act on it.
      if (!in_.empty())
        co_return fail("STARTTLS: the server sent more than its reply before the handshake", true);
      if (const bool ok = co_await handshake(); !ok) co_return false;
      // Again: what the server offers (AUTH above all) may differ under TLS.
      if (const bool ok = co_await hello(); !ok) co_return false;
    }
    if (!server_.username.empty()) {
      if (const bool ok = co_await authenticate(); !ok) co_return false;
    }

    const bool eight_bit = extensions_.contains("8BITMIME");
    const std::string mail = "MAIL FROM:<" + from_.address + ">";
    const std::string mail_line =
        eight_bit && has_8bit(message_.body) ? mail + " BODY=8BITMIME" : mail;
    if (const bool ok = co_await command(mail, mail_line, 2, reply); !ok) co_return false;
    // The first refused recipient ends the send before DATA: nobody gets a partial copy.
    for (const auto& to : message_.to) {
      const std::string rcpt = "RCPT TO:<" + to + ">";
      if (const bool ok = co_await command(rcpt, rcpt, 2, reply); !ok) co_return false;
    }
    if (const bool ok = co_await command("DATA", "DATA", 3, reply); !ok) co_return false;
    step_ = "end of DATA";
    const std::string data =
        format_data(message_, eight_bit, std::chrono::system_clock::now()) + ".\r\n";
    if (const bool ok = co_await send(data); !ok) co_return false;
    if (const bool ok = co_await read_reply(reply); !ok) co_return false;
    if (reply.code / 100 != 2) co_return fail_reply(reply);
    outcome_ = {true, false, reply.text()};
    co_return true;
  }

  asio::awaitable<bool> handshake() {
    step_ = "TLS handshake with " + host_port_;
    SSL* ssl = stream_.native_handle();
    const bool ip = is_ip_address(server_.host);
    // RFC 6066: SNI carries host names only, never address literals.
    if (!ip && !SSL_set_tlsext_host_name(ssl, server_.host.c_str()))
      co_return fail(step_ + ": cannot set SNI", true);
    if (server_.verify) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      const int set = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, server_.host.c_str())
                         : X509_VERIFY_PARAM_set1_host(param, server_.host.c_str(), 0);
      if (!set) co_return fail(step_ + ": cannot set the name to verify", true);
    }
    auto [ec] = co_await stream_.async_handshake(ssl::stream_base::client, kTuple);
    if (ec) {
      const long verdict = SSL_get_verify_result(ssl);
      if (!timed_out_ && server_.verify && verdict != X509_V_OK)
        co_return fail(step_ + ": certificate refused: " + X509_verify_cert_error_string(verdict),
                       true);
      co_return fail_io(ec);
    }
    tls_ = true;
    co_return true;
  }

  // EHLO, remembering the extensions it lists.
  asio::awaitable<bool> hello() {
    const std::string ehlo = "EHLO " + server_.helo;
    Reply reply;
    if (const bool ok = co_await command(ehlo, ehlo, 2, reply); !ok) co_return false;
    extensions_.clear();
    auth_mechanisms_.clear();
    for (size_t i = 1; i < reply.lines.size(); ++i) {  // the first line is the server's name
      std::string line = to_upper(reply.lines[i]);
      const size_t space = line.find(' ');
      std::string keyword = line.substr(0, space);
      std::string params = space == std::string::npos ? "" : line.substr(space + 1);
      if (keyword.starts_with("AUTH=")) {  // the pre-RFC 4954 form some servers still send
        params = keyword.substr(5) + " " + params;
        keyword = "AUTH";
      }
      if (keyword == "AUTH") {
        for (size_t p = 0; p < params.size();) {
          const size_t end = std::min(params.find(' ', p), params.size());
          if (end > p) auth_mechanisms_.insert(params.substr(p, end - p));
          p = end + 1;
        }
      }
      extensions_.insert(keyword);
    }
    co_return true;
  }

  asio::awaitable<bool> authenticate() {
    if (!tls_ && !loopback_)
      co_return fail("AUTH: refusing to send credentials without TLS to " + host_port_, true);
    Reply reply;
    if (auth_mechanisms_.contains("PLAIN")) {
      const std::string response =
          std::string(1, '\0') + server_.username + '\0' + server_.password;
      co_return co_await command("AUTH PLAIN", "AUTH PLAIN " + encode_base64(response), 2, reply);
    }
    if (auth_mechanisms_.contains("LOGIN")) {
      if (const bool ok = co_await command("AUTH LOGIN", "AUTH LOGIN", 3, reply); !ok)
        co_return false;
      const std::string user = encode_base64(server_.username);
      if (const bool ok = co_await command("AUTH LOGIN", user, 3, reply); !ok) co_return false;
      co_return co_await command("AUTH LOGIN", encode_base64(server_.password), 2, reply);
    }
    std::string offered;
    for (const auto& m : auth_mechanisms_)
      offered += " " + m;
    co_return fail("AUTH: " + host_port_ + " offers neither PLAIN nor LOGIN (offered:" +
                       (offered.empty() ? " none" : offered) + ")",
                   true);
  }

  asio::awaitable<void> quit() {
    // QUIT cannot change what was decided; its own failures are not reported.
    const SmtpOutcome decided = outcome_;
    Reply reply;
    co_await command("QUIT", "QUIT", 2, reply);
    outcome_ = decided;
  }

  // Sends `line` and reads the reply, which must be of `expected_class` (2: 2xx). `step`
  // names the command in the outcome: never the line itself, which may hold credentials.
  asio::awaitable<bool> command(std::string step, std::string line, int expected_class,
                                Reply& reply) {
    step_ = std::move(step);
    line += "\r\n";
    if (const bool ok = co_await send(line); !ok) co_return false;
    if (const bool ok = co_await read_reply(reply); !ok) co_return false;
    if (reply.code / 100 != expected_class) co_return fail_reply(reply);
    co_return true;
  }

  asio::awaitable<bool> send(const std::string& data) {
    error_code ec;
    if (tls_)
      std::tie(ec, std::ignore) = co_await asio::async_write(stream_, asio::buffer(data), kTuple);
    else
      std::tie(ec, std::ignore) =
          co_await asio::async_write(stream_.next_layer(), asio::buffer(data), kTuple);
    co_return ec ? fail_io(ec) : true;
  }

  // One reply, all its lines ("250-a", "250-b", "250 c"); they must share their code.
  asio::awaitable<bool> read_reply(Reply& reply) {
    reply = {};
    for (;;) {
      error_code ec;
      size_t n = 0;
      auto buffer = asio::dynamic_buffer(in_, kMaxReplyBytes);
      if (tls_)
        std::tie(ec, n) = co_await asio::async_read_until(stream_, buffer, '\n', kTuple);
      else
        std::tie(ec, n) =
            co_await asio::async_read_until(stream_.next_layer(), buffer, '\n', kTuple);
      if (ec == asio::error::not_found)
        co_return fail(step_ + ": reply longer than " + std::to_string(kMaxReplyBytes) + " bytes",
                       false);
      if (ec) co_return fail_io(ec);
      std::string line = in_.substr(0, n - 1);
      in_.erase(0, n);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const bool well_formed = line.size() >= 3 &&
                               std::isdigit(static_cast<unsigned char>(line[0])) &&
                               std::isdigit(static_cast<unsigned char>(line[1])) &&
                               std::isdigit(static_cast<unsigned char>(line[2])) &&
                               (line.size() == 3 || line[3] == ' ' || line[3] == '-');
      const int code = well_formed ? std::stoi(line.substr(0, 3)) : 0;
      if (!well_formed || (reply.code != 0 && code != reply.code))
        co_return fail(step_ + ": malformed reply '" + one_line(line) + "'", false);
      reply.code = code;
      reply.lines.push_back(line.size() > 4 ? line.substr(4) : "");
      if (line.size() == 3 || line[3] == ' ') co_return true;
    }
  }

  bool fail(std::string detail, bool permanent) {
    outcome_ = {false, permanent, one_line(std::move(detail))};
    return false;
  }

  bool fail_reply(const Reply& reply) {
    refused_ = true;
    return fail(step_ + ": " + reply.text(), reply.code >= 500 && reply.code < 600);
  }

  bool fail_io(const error_code& ec) {
    if (timed_out_)
      return fail(step_ + ": timed out after " + std::to_string(server_.timeout.count()) + " ms",
                  false);
    if (ec == asio::error::eof || ec == ssl::error::stream_truncated)
      return fail(step_ + ": connection closed by the server", false);
    return fail(step_ + ": " + ec.message(), false);
  }

  void close() {
    error_code ignored;
    stream_.lowest_layer().close(ignored);
  }

  const SmtpServer& server_;
  const EmailMessage& message_;
  const Mailbox from_;
  const std::string host_port_;  // "host:port" for messages, "[v6]:port" for IPv6
  ssl::stream<tcp::socket> stream_;
  std::string in_;    // read but not yet consumed
  std::string step_;  // what the next failure is reported as
  bool tls_ = false;  // stream_ is past its handshake: I/O goes through TLS
  bool loopback_ = false;
  bool timed_out_ = false;
  bool refused_ = false;              // the server answered with an unwanted reply (worth a QUIT)
  std::set<std::string> extensions_;  // EHLO keywords, upper case
  std::set<std::string> auth_mechanisms_;  // from "AUTH ..." (or "AUTH=..."), upper case
  SmtpOutcome outcome_;
};

// The TLS settings every connection shares: TLS 1.2 or newer, the trust store.
bool configure_tls(ssl::context& ctx, const SmtpServer& server, std::string& error) {
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  if (!server.verify) {
    ctx.set_verify_mode(ssl::verify_none);
    return true;
  }
  error_code ec;
  if (server.ca_file.empty())
    ctx.set_default_verify_paths(ec);
  else
    ctx.load_verify_file(server.ca_file, ec);
  if (ec) {
    error = (server.ca_file.empty() ? "load the system's trust store"
                                    : "load CA file " + server.ca_file) +
            ": " + ec.message();
    return false;
  }
  ctx.set_verify_mode(ssl::verify_peer);
  return true;
}

}  // namespace

SmtpServer parse_smtp_url(const std::string& url) {
  const size_t sep = url.find("://");
  if (sep == std::string::npos)
    throw std::invalid_argument("not an smtp://, smtps:// or smtp+plain:// URL: " + shown(url));
  std::string authority = url.substr(sep + 3);
  const size_t path = authority.find_first_of("/?#");
  const std::string rest = path == std::string::npos ? "" : authority.substr(path);
  authority = authority.substr(0, path);
  if (authority.find('@') != std::string::npos)
    throw std::invalid_argument(
        "user name or password in the SMTP URL: give them in their own settings");

  SmtpServer server;
  const std::string scheme = to_upper(url.substr(0, sep));
  if (scheme == "SMTP") {
    server.tls = SmtpTls::kStartTls;
    server.port = "587";
  } else if (scheme == "SMTPS") {
    server.tls = SmtpTls::kImplicit;
    server.port = "465";
  } else if (scheme == "SMTP+PLAIN") {
    server.tls = SmtpTls::kNone;
    server.port = "25";
  } else {
    throw std::invalid_argument("unsupported scheme '" + url.substr(0, sep) +
                                "' (smtp://, smtps:// or smtp+plain://): " + shown(url));
  }
  if (!rest.empty() && rest != "/")
    throw std::invalid_argument("nothing may follow host[:port] in an SMTP URL: " + shown(url));

  std::string port_text;
  bool has_port = false;
  if (authority.starts_with("[")) {
    const size_t close = authority.find(']');
    if (close == std::string::npos)
      throw std::invalid_argument("unclosed '[' in the SMTP URL: " + shown(url));
    server.host = authority.substr(1, close - 1);
    const std::string after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':')
      throw std::invalid_argument("unexpected text after ']' in the SMTP URL: " + shown(url));
    has_port = !after.empty();
    if (has_port) port_text = after.substr(1);
    if (!server.host.empty() && !is_ip_address(server.host))
      throw std::invalid_argument("not an IP address in [...] in the SMTP URL: " + shown(url));
  } else {
    const size_t colon = authority.find(':');
    if (colon != std::string::npos && authority.find(':', colon + 1) != std::string::npos)
      throw std::invalid_argument("IPv6 addresses go in brackets in the SMTP URL: " + shown(url));
    server.host = authority.substr(0, colon);
    has_port = colon != std::string::npos;
    if (has_port) port_text = authority.substr(colon + 1);
    for (char c : server.host)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_')
        throw std::invalid_argument("bad host name in the SMTP URL: " + shown(url));
  }
  if (server.host.empty()) throw std::invalid_argument("no host in the SMTP URL: " + shown(url));
  if (has_port) {
    const bool digits = !port_text.empty() && port_text.size() <= 5 &&
                        port_text.find_first_not_of("0123456789") == std::string::npos;
    if (!digits || std::stoi(port_text) < 1 || std::stoi(port_text) > 65535)
      throw std::invalid_argument("bad port '" + port_text + "' in the SMTP URL: " + shown(url));
    server.port = std::to_string(std::stoi(port_text));
  }
  return server;
}

SmtpOutcome send_email(const SmtpServer& server, const EmailMessage& message) {
  check_message(message);
  if (server.helo.empty() || std::any_of(server.helo.begin(), server.helo.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f;
      }))
    throw std::invalid_argument("helo: empty, or holds white space or a control byte");

  const auto deadline = Clock::now() + server.timeout;
  const std::string timed_out = "timed out after " + std::to_string(server.timeout.count()) + " ms";
  Resolved resolved = resolve_before(server.host, server.port, deadline);
  if (resolved.timed_out) return {false, false, "resolve " + server.host + ": " + timed_out};
  if (!resolved.error.empty())
    return {false, false, one_line("resolve " + server.host + ": " + resolved.error)};
  if (resolved.endpoints.empty()) return {false, false, "resolve " + server.host + ": no address"};

  ssl::context tls(ssl::context::tls_client);
  if (std::string error; server.tls != SmtpTls::kNone && !configure_tls(tls, server, error))
    return {false, true, one_line(error)};

  asio::io_context io(1);
  Exchange exchange(io, tls, server, message);
  asio::steady_timer timer(io, deadline);
  timer.async_wait([&exchange](error_code ec) {
    if (!ec) exchange.on_deadline();
  });
  std::exception_ptr failure;
  asio::co_spawn(io, exchange.run(std::move(resolved.endpoints)),
                 [&failure, &timer](std::exception_ptr e) {
                   failure = e;
                   timer.cancel();
                 });
  io.run();
  if (failure) std::rethrow_exception(failure);
  return exchange.outcome();
}

}  // namespace metricsd::notify
