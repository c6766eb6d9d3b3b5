// A blocking HTTP/1.1 client on one keep-alive connection, for tools that send one request at a
// time and time each (metricsd-query-load). Every request has a deadline; after any I/O failure
// the connection is closed and the next request reconnects. Plain http:// only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace metricsd::bench {

// host:port and the base path of a URL ("http://127.0.0.1:8086/write?db=bench" gives host
// 127.0.0.1:8086, target "/write?db=bench").
struct HttpUrl {
  std::string host;    // host[:port], the Host header
  std::string port;    // "80" when the URL has none
  std::string target;  // path and query, at least "/"
  std::string host_name;
};
// Throws std::invalid_argument naming what is wrong.
HttpUrl parse_http_url(const std::string& url);

struct HttpAnswer {
  unsigned status = 0;  // 0: the request failed before an answer (see error)
  std::string body;
  std::string retry_after;  // the Retry-After header, if any
  std::string error;        // I/O failure text when status is 0
};

class BlockingHttp {
 public:
  BlockingHttp(const HttpUrl& url, std::chrono::milliseconds timeout,
               std::vector<std::string> headers);

  // Sends one request (method "GET" or "POST") and reads the whole answer. Never throws on
  // I/O errors or HTTP statuses: they come back in the answer.
  HttpAnswer request(const std::string& method, const std::string& target,
                     const std::string& body = "", const std::string& content_type = "");

  uint64_t connects() const { return connects_; }

 private:
  bool connect(HttpAnswer& out);
  void close();

  boost::asio::io_context io_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::vector<boost::asio::ip::tcp::endpoint> endpoints_;
  std::string host_;
  std::chrono::milliseconds timeout_;
  std::vector<std::string> headers_;
  bool connected_ = false;
  uint64_t connects_ = 0;
};

}  // namespace metricsd::bench
