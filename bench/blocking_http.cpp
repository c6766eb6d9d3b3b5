// A blocking keep-alive HTTP/1.1 client (see blocking_http.hpp). Each step runs as an
// asynchronous operation on a private io_context so that tcp_stream's deadlines apply.
#include "bench/blocking_http.hpp"

#include <boost/asio/connect.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>
#include <stdexcept>

namespace metricsd::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

constexpr uint64_t kMaxAnswerBytes = 256ull << 20;

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

}  // namespace

HttpUrl parse_http_url(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) throw std::invalid_argument("not a URL: '" + url + "'");
  const boost::urls::url_view u = *parsed;
  if (u.scheme() != "http") throw std::invalid_argument("only plain http:// URLs: '" + url + "'");
  if (u.encoded_host().empty()) throw std::invalid_argument("no host in '" + url + "'");
  HttpUrl out;
  out.host = std::string(u.encoded_host_and_port());
  out.host_name = std::string(u.host_address());
  out.port = u.has_port() ? std::string(u.port()) : "80";
  out.target = std::string(u.encoded_target());
  if (out.target.empty() || out.target.front() != '/') out.target.insert(0, "/");
  return out;
}

BlockingHttp::BlockingHttp(const HttpUrl& url, std::chrono::milliseconds timeout,
                           std::vector<std::string> headers)
    : io_(1), stream_(io_), host_(url.host), timeout_(timeout), headers_(std::move(headers)) {
  tcp::resolver resolver(io_);
  for (const auto& entry : resolver.resolve(url.host_name, url.port))
    endpoints_.push_back(entry.endpoint());
  if (endpoints_.empty()) throw std::runtime_error("cannot resolve " + url.host);
}

bool BlockingHttp::connect(HttpAnswer& out) {
  beast::error_code ec;
  stream_.expires_after(timeout_);
  stream_.async_connect(endpoints_, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
  io_.restart();
  io_.run();
  if (ec) {
    out.error = "connect: " + ec.message();
    close();
    return false;
  }
  beast::error_code ignored;
  stream_.socket().set_option(tcp::no_delay(true), ignored);
  buffer_.clear();
  connected_ = true;
  ++connects_;
  return true;
}

void BlockingHttp::close() {
  beast::error_code ignored;
  stream_.socket().close(ignored);
  connected_ = false;
}

HttpAnswer BlockingHttp::request(const std::string& method, const std::string& target,
                                 const std::string& body, const std::string& content_type) {
  HttpAnswer out;
  if (!connected_ && !connect(out)) return out;

  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, host_);
  req.set(http::field::user_agent, "metricsd-query-load");
  if (!content_type.empty()) req.set(http::field::content_type, content_type);
  for (const std::string& line : headers_) {
    const auto colon = line.find(':');
    req.set(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
  }
  req.keep_alive(true);
  req.body() = body;
  if (!body.empty() || method == "POST") req.prepare_payload();

  beast::error_code ec;
  stream_.expires_after(timeout_);
  http::async_write(stream_, req, [&](beast::error_code e, size_t) { ec = e; });
  io_.restart();
  io_.run();
  if (ec) {
    out.error = "send: " + ec.message();
    close();
    return out;
  }

  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxAnswerBytes);
  stream_.expires_after(timeout_);
  http::async_read(stream_, buffer_, parser, [&](beast::error_code e, size_t) { ec = e; });
  io_.restart();
  io_.run();
  if (ec) {
    out.error = "answer: " + ec.message();
    close();
    return out;
  }
  auto& res = parser.get();
  out.status = res.result_int();
  if (auto it = res.find(http::field::retry_after); it != res.end())
    out.retry_after = std::string(it->value());
  out.body = std::move(res.body());
  if (!res.keep_alive()) close();
  return out;
}

}  // namespace metricsd::bench
