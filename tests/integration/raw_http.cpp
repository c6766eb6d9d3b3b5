// Raw HTTP test connections; see raw_http.hpp.
#include "raw_http.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <cctype>
#include <cstdio>

namespace metricsd::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

RawConnection::RawConnection(int port) : stream_(ioc_) {
  stream_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)));
}

RawConnection::RawConnection(int port, const std::string& source) : stream_(ioc_) {
  auto& s = stream_.socket();
  s.open(tcp::v4());
  s.bind(tcp::endpoint(asio::ip::make_address(source), 0));
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)));
}

// Beast's stream deadlines bind asynchronous operations only: each step runs one on the
// connection's own io_context, to completion or its deadline (which closes the socket).
size_t RawConnection::read_some(char* buf, size_t size, std::chrono::milliseconds timeout,
                                beast::error_code& ec) {
  size_t n = 0;
  stream_.expires_after(timeout);
  stream_.async_read_some(asio::buffer(buf, size), [&](beast::error_code e, size_t k) {
    ec = e;
    n = k;
  });
  ioc_.restart();
  ioc_.run();
  return n;
}

bool RawConnection::send(const std::string& bytes) {
  beast::error_code ec;
  stream_.expires_after(std::chrono::seconds(30));
  asio::async_write(stream_, asio::buffer(bytes), [&](beast::error_code e, size_t) { ec = e; });
  ioc_.restart();
  ioc_.run();
  return !ec;
}

std::optional<RawAnswer> RawConnection::read_answer(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Reads more into pending_; false at a close, a reset or the deadline.
  auto more = [&] {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= std::chrono::milliseconds(0)) return false;
    char buf[16384];
    beast::error_code ec;
    size_t n = read_some(buf, sizeof buf, left, ec);
    pending_.append(buf, n);
    return !ec || n > 0;
  };
  size_t end;
  while ((end = pending_.find("\r\n\r\n")) == std::string::npos)
    if (!more()) return std::nullopt;
  RawAnswer a;
  std::string head = pending_.substr(0, end + 2);
  size_t eol = head.find("\r\n");
  a.status_line = head.substr(0, eol);
  if (a.status_line.size() >= 12) a.status = std::atoi(a.status_line.c_str() + 9);
  for (size_t p = eol + 2; p < head.size();) {
    size_t e = head.find("\r\n", p);
    std::string line = head.substr(p, e - p);
    p = e + 2;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ')
      value.erase(0, 1);
    a.headers[name] = value;
  }
  pending_.erase(0, end + 4);
  size_t length =
      a.status >= 200 ? std::strtoul(a.header("content-length").c_str(), nullptr, 10) : 0;
  while (pending_.size() < length)
    if (!more()) return std::nullopt;
  a.body = pending_.substr(0, length);
  pending_.erase(0, length);
  return a;
}

bool RawConnection::closed_by_server(std::chrono::milliseconds timeout, std::string* extra) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string got = pending_;
  pending_.clear();
  beast::error_code ec;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= std::chrono::milliseconds(0)) {
      ec = beast::error::timeout;
      break;
    }
    char buf[4096];
    size_t n = read_some(buf, sizeof buf, left, ec);
    got.append(buf, n);
    if (ec) break;
  }
  if (extra) *extra = got;
  // A timeout is the stream's own error; a close is eof, or a reset after the server's
  // linger.
  return got.empty() && ec != beast::error::timeout;
}

void RawConnection::close() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.close();
}

std::string chunked(const std::string& body, size_t chunk) {
  std::string out;
  for (size_t p = 0; p < body.size(); p += chunk) {
    size_t n = std::min(chunk, body.size() - p);
    char len[32];
    std::snprintf(len, sizeof len, "%zx\r\n", n);
    out += len;
    out.append(body, p, n);
    out += "\r\n";
  }
  return out + "0\r\n\r\n";
}

}  // namespace metricsd::test
