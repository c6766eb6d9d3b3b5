// A raw HTTP/1.1 client connection for tests that need to control every byte and its
// timing: send a head now and a body later, read one answer at a time (parsed enough to
// check its status, fields and body), and tell a connection the server closed from one
// it keeps open.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <optional>
#include <string>

#include "harness.hpp"

namespace metricsd::test {

// An answer as http_request gives it, and its status line.
struct RawAnswer : HttpResult {
  std::string status_line;  // "HTTP/1.1 400 Bad Request"
};

class RawConnection {
 public:
  explicit RawConnection(int port);
  // From the source address `source` (on Linux all of 127.0.0.0/8 is loopback, so
  // 127.0.0.2 is another client to the daemon than 127.0.0.1).
  RawConnection(int port, const std::string& source);
  // Writes all of `bytes`; false when the server closed or reset the connection first.
  bool send(const std::string& bytes);
  // Reads the next answer: a head, then Content-Length bytes of body (an interim 1xx has
  // none). nullopt when the connection ends or `timeout` passes first.
  std::optional<RawAnswer> read_answer(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // True when the server ends the connection within `timeout` with nothing more sent;
  // false when it sends more bytes (see *extra) or keeps the connection open.
  bool closed_by_server(std::chrono::milliseconds timeout = std::chrono::seconds(5),
                        std::string* extra = nullptr);
  void close();

 private:
  size_t read_some(char* buf, size_t size, std::chrono::milliseconds timeout,
                   boost::beast::error_code& ec);

  boost::asio::io_context ioc_;
  boost::beast::tcp_stream stream_;
  std::string pending_;  // bytes read but not yet part of an answer
};

// The bytes of `body` as chunks of at most `chunk` bytes, ended by the last chunk.
std::string chunked(const std::string& body, size_t chunk = 4096);

}  // namespace metricsd::test
