// An SMTP client for alert e-mail: one message per call on a new connection, blocking,
// with one deadline over the whole exchange (DNS resolution, connect, TLS handshake and
// every command). It belongs on a notifier thread, never on an io thread: send_email()
// holds its caller until the server answered or the deadline passed. Each call owns its
// io_context, TLS context and socket, so calls on different threads share nothing.
// Boost.Asio and OpenSSL stay inside smtp_client.cpp; the message text (headers, RFC 2047
// words, dot-stuffing) is built by smtp_message.cpp.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace metricsd::notify {

enum class SmtpTls {
  kStartTls,  // plain greeting, then STARTTLS is required before anything else
  kImplicit,  // TLS from the first byte (port 465)
  kNone,      // never TLS: only for a relay on the same machine
};

struct SmtpServer {
  std::string host, port;
  SmtpTls tls = SmtpTls::kStartTls;
  std::string username, password;            // AUTH when username is not empty
  std::string helo = "metricsd";             // EHLO name
  std::string ca_file;                       // "" -> the system's default trust store
  bool verify = true;                        // verify the certificate chain and the host name
  std::chrono::milliseconds timeout{10000};  // the whole exchange
};

// smtp://host[:port]       STARTTLS required (port 587 when none)
// smtps://host[:port]      TLS from the first byte (465)
// smtp+plain://host[:port] no TLS (25), for a relay on the same machine
// IPv6 addresses go in brackets (smtp://[::1]:25); a trailing "/" is allowed, nothing
// else after the port. Throws std::invalid_argument naming what is wrong (scheme,
// missing host, bad port, userinfo in the URL: credentials go in their own settings; the
// message then does not repeat the URL, which would hold the password).
SmtpServer parse_smtp_url(const std::string& url);

struct EmailMessage {
  std::string from;             // "metricsd <alerts@example.com>" or a bare address
  std::vector<std::string> to;  // bare addresses
  std::string subject;          // UTF-8; encoded (RFC 2047) when not ASCII
  std::string body;             // UTF-8 text/plain; lines ending in \n
};

struct SmtpOutcome {
  bool ok = false;
  bool permanent = false;  // a 5xx reply or a refused certificate/auth: retrying will not help
  // One line: "250 2.0.0 queued as X" on success, else the step and the reply or I/O
  // error, e.g. "RCPT TO:<a@b>: 550 5.1.1 no such user",
  // "connect smtp.example.com:587: timed out after 10000 ms".
  std::string detail;
};

// Throws std::invalid_argument (before connecting) when the message is unusable: no
// recipient, CR or LF in from/to/subject (header injection), an address without '@' or
// with spaces, angle brackets or non-ASCII bytes (SMTPUTF8 is not spoken), or an EHLO name
// that is empty or holds white space. Every other failure, configuration included (an
// unreadable ca_file), comes back in the outcome.
//
// The body goes as 8bit when the server offers 8BITMIME (MAIL FROM gets BODY=8BITMIME)
// or is plain ASCII; otherwise, and whenever a line is longer than SMTP's 998 octets, it
// goes as quoted-printable so that it arrives unchanged.
SmtpOutcome send_email(const SmtpServer& server, const EmailMessage& message);

}  // namespace metricsd::notify
