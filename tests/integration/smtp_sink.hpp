// A local SMTP server for the notifier tests: listens on an ephemeral port of 127.0.0.1,
// speaks enough ESMTP for a mail client (EHLO, STARTTLS or TLS from the first byte, AUTH
// PLAIN/LOGIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT), keeps what it received, and can be
// told to refuse or to hang. Its io thread serves connections concurrently; the destructor
// closes every connection, hanging ones included, and joins it. Boost.Asio stays inside
// smtp_sink.cpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace metricsd::test {

struct SmtpSinkOptions {
  std::string cert_file, key_file;  // when set: offers STARTTLS (or, with implicit_tls, TLS from
                                    // the first byte)
  bool implicit_tls = false;
  bool require_tls = false;    // MAIL before STARTTLS -> 530
  std::string user, password;  // when set: AUTH offered and required (535 on a wrong password)
  std::string auth_mechanisms = "PLAIN LOGIN";  // what EHLO offers when user is set
  int rcpt_reply = 0;                           // e.g. 550 or 451: refuse every RCPT with that code
  int data_reply = 0;                           // e.g. 554 or 451 after the message data
  bool hang = false;                            // accept the connection and never send the greeting
  std::string address = "127.0.0.1";            // where to listen (a test of a non-loopback peer)
};

struct ReceivedMail {
  std::string from;             // the envelope sender (MAIL FROM, without <>)
  std::vector<std::string> to;  // the envelope recipients (RCPT TO)
  std::string data;             // after un-dot-stuffing, CRLF kept, without the final "."
  bool tls = false;             // the message came over TLS
  std::string auth_user;        // "" when the session did not authenticate
};

class SmtpSink {
 public:
  // Throws when it cannot listen or load the certificate.
  explicit SmtpSink(SmtpSinkOptions options = {});
  ~SmtpSink();  // closes the listener and every connection, joins the io thread
  SmtpSink(const SmtpSink&) = delete;
  SmtpSink& operator=(const SmtpSink&) = delete;

  int port() const;
  std::vector<ReceivedMail> messages() const;
  // Waits (on a condition variable) until at least n messages arrived or the timeout passed.
  bool wait_for(size_t n, std::chrono::milliseconds timeout) const;
  size_t connections() const;  // accepted so far

 private:
  class State;
  std::unique_ptr<State> state_;
};

}  // namespace metricsd::test
