// The blocking keep-alive HTTP client (see http_client.hpp). Each step runs as an
// asynchronous operation on a private io_context so that tcp_stream's deadline applies.
#include "tools/common/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>
#include <stdexcept>

namespace metricsd::tools {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

}  // namespace

ServerUrl parse_server_url(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) throw std::invalid_argument("not a URL: '" + url + "'");
  const boost::urls::url_view u = *parsed;
  if (u.scheme() != "http")
    throw std::invalid_argument("only plain http:// server URLs are supported: '" + url + "'");
  if (u.encoded_host().empty()) throw std::invalid_argument("no host in '" + url + "'");
  ServerUrl out;
  out.host = std::string(u.host_address());
  out.port = u.has_port() ? std::string(u.port()) : "80";
  out.host_header = std::string(u.encoded_host_and_port());
  out.base_path = std::string(u.encoded_path());
  while (!out.base_path.empty() && out.base_path.back() == '/')
    out.base_path.pop_back();
  out.target = std::string(u.encoded_target());
  if (out.target.empty() || out.target.front() != '/') out.target.insert(0, "/");
  return out;
}

ServerUrl origin_of(ServerUrl url) {
  url.base_path.clear();
  return url;
}

std::pair<std::string, std::string> parse_header_line(const std::string& line) {
  const auto colon = line.find(':');
  if (colon == std::string::npos || trim(line.substr(0, colon)).empty() ||
      line.find_first_of("\r\n") != std::string::npos)
    throw std::invalid_argument("expected 'Name: value', got '" + line + "'");
  return {trim(line.substr(0, colon)), trim(line.substr(colon + 1))};
}

class HttpClient::State {
 public:
  State(ServerUrl url, HttpClientOptions options)
      : url_(std::move(url)), options_(std::move(options)), stream_(io_) {
    if (options_.resolve_once) {
      beast::error_code ec;
      tcp::resolver resolver(io_);
      endpoints_ = resolver.resolve(url_.host, url_.port, ec);
      if (ec || endpoints_.empty())
        throw std::runtime_error("cannot resolve " + url_.host + ": " + ec.message());
    }
  }

  HttpReply request(http::verb verb, const std::string& path, const std::string& body,
                    const std::string& content_type) {
    HttpReply out;
    if (!connected_ && !connect(out)) return out;
    http::request<http::string_body> req{verb, url_.base_path + path, 11};
    req.set(http::field::host, url_.host_header);
    req.set(http::field::user_agent, options_.user_agent);
    if (!content_type.empty()) req.set(http::field::content_type, content_type);
    for (const auto& [name, value] : options_.headers)
      req.set(name, value);
    req.keep_alive(true);
    req.body() = body;
    if (!body.empty() || verb == http::verb::post || verb == http::verb::put) req.prepare_payload();

    beast::error_code ec;
    stream_.expires_after(options_.timeout);
    http::async_write(stream_, req, [&](beast::error_code e, size_t) { ec = e; });
    run();
    if (ec) return fail(out, "send: " + ec.message());

    http::response_parser<http::string_body> parser;
    parser.body_limit(options_.max_reply_bytes);
    stream_.expires_after(options_.timeout);
    http::async_read(stream_, buffer_, parser, [&](beast::error_code e, size_t) { ec = e; });
    run();
    if (ec) return fail(out, "answer: " + ec.message());
    auto& res = parser.get();
    out.status = res.result_int();
    if (auto it = res.find(http::field::retry_after); it != res.end())
      out.retry_after = std::string(it->value());
    out.body = std::move(res.body());
    if (!res.keep_alive()) close();
    return out;
  }

  void set_timeout(std::chrono::milliseconds t) { options_.timeout = t; }
  uint64_t connects() const { return connects_; }

 private:
  void run() {
    io_.restart();
    io_.run();
  }

  HttpReply& fail(HttpReply& out, std::string what) {
    out.error = std::move(what);
    close();
    return out;
  }

  bool connect(HttpReply& out) {
    beast::error_code ec;
    tcp::resolver::results_type endpoints = endpoints_;
    if (!options_.resolve_once) {
      tcp::resolver resolver(io_);
      endpoints = resolver.resolve(url_.host, url_.port, ec);
      if (ec) {
        fail(out, "resolve " + url_.host + ": " + ec.message());
        return false;
      }
    }
    stream_.expires_after(options_.timeout);
    stream_.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    run();
    if (ec) {
      fail(out, "connect " + url_.host_header + ": " + ec.message());
      return false;
    }
    beast::error_code ignored;
    stream_.socket().set_option(tcp::no_delay(true), ignored);
    buffer_.clear();
    connected_ = true;
    ++connects_;
    return true;
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
    connected_ = false;
  }

  ServerUrl url_;
  HttpClientOptions options_;
  asio::io_context io_{1};
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  tcp::resolver::results_type endpoints_;  // with resolve_once
  bool connected_ = false;
  uint64_t connects_ = 0;
};

HttpClient::HttpClient(ServerUrl url, HttpClientOptions options)
    : state_(std::make_unique<State>(std::move(url), std::move(options))) {}

HttpClient::HttpClient(ServerUrl url, std::chrono::milliseconds timeout,
                       std::vector<std::pair<std::string, std::string>> headers)
    : HttpClient(std::move(url), HttpClientOptions{timeout, std::move(headers)}) {}

HttpClient::~HttpClient() = default;

HttpReply HttpClient::post(const std::string& path, const std::string& body,
                           const std::string& content_type) {
  return state_->request(http::verb::post, path, body, content_type);
}

HttpReply HttpClient::get(const std::string& path) {
  return state_->request(http::verb::get, path, "", "");
}

HttpReply HttpClient::request(const std::string& method, const std::string& path,
                              const std::string& body, const std::string& content_type) {
  const http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) throw std::invalid_argument("unknown HTTP method " + method);
  return state_->request(verb, path, body, content_type);
}

uint64_t HttpClient::connects() const {
  return state_->connects();
}

void HttpClient::set_timeout(std::chrono::milliseconds timeout) {
  state_->set_timeout(timeout);
}

}  // namespace metricsd::tools
