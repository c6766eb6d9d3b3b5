// A webhook receiver for the tests: an HTTP or HTTPS server on 127.0.0.1 (an ephemeral port)
// that records every request and answers each with the status, headers and body it was given,
// optionally late, a byte at a time, or never. It runs one io thread of its own; the
// destructor closes the listener and every connection, then joins that thread, so it returns
// at once even while a client holds a connection open without sending anything.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace metricsd::test {

class WebhookReceiver {
 public:
  // Members have initializers so that designated initializers may leave any of them out.
  struct Options {
    int status = 200;  // of every answer; set_status changes it later
    std::vector<std::pair<std::string, std::string>> reply_headers{};  // e.g. {"Retry-After", "30"}
    std::string reply_body{};
    bool chunked = false;  // the reply body goes chunked instead of with Content-Length
    bool hang = false;     // record the request, then never answer
    std::chrono::milliseconds delay{0};   // wait this long before answering
    std::chrono::milliseconds drip{0};    // when set, the answer goes out one byte per drip
    std::string cert_file{}, key_file{};  // PEM; HTTPS when both are set
  };

  struct Received {
    std::string method;
    std::string target;                          // path and query
    std::map<std::string, std::string> headers;  // lowercased names; repeats joined by ", "
    std::string body;
  };

  WebhookReceiver();
  // Throws std::runtime_error when it cannot listen or load the certificate and key.
  explicit WebhookReceiver(Options options);
  ~WebhookReceiver();
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  int port() const;
  // "http://127.0.0.1:<port>" (https with a certificate) followed by `target`.
  std::string url(const std::string& target = "/") const;
  // Every request read so far, in arrival order, including those never answered (hang).
  std::vector<Received> received() const;
  // Waits until at least `n` requests have arrived; false if `timeout` passes first.
  bool wait_for(size_t n, std::chrono::milliseconds timeout) const;
  // The status of later answers.
  void set_status(int status);

 private:
  class Server;
  std::unique_ptr<Server> server_;
};

}  // namespace metricsd::test
