// The test webhook receiver (see webhook_receiver.hpp). One coroutine accepts; one coroutine
// per connection reads requests and answers them. Connections are held by their coroutines
// (shared_ptr) and listed by weak_ptr so that the destructor can close them all.
#include "webhook_receiver.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <condition_variable>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <type_traits>

namespace metricsd::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::ip::tcp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// A connection as the destructor sees it.
class Closable {
 public:
  virtual ~Closable() = default;
  virtual void close() = 0;
};

// One accepted connection. Touched on the io thread only.
template <class Stream>
struct Connection final : Closable {
  template <class Arg>
  Connection(asio::io_context& io, Arg&& arg) : stream(std::forward<Arg>(arg)), timer(io) {}
  template <class Arg>
  Connection(asio::io_context& io, Arg&& arg, ssl::context& ctx)
      : stream(std::forward<Arg>(arg), ctx), timer(io) {}

  // Ends every pending operation; the coroutine checks `closed` after each step, so it
  // starts no new one.
  void close() override {
    closed = true;
    timer.cancel();
    beast::error_code ignored;
    beast::get_lowest_layer(stream).socket().close(ignored);
  }

  Stream stream;
  asio::steady_timer timer;  // for delay and drip
  bool closed = false;
};

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The completion of a co_spawn here: a coroutine that throws is a bug in this file, and it
// fails the running test.
auto report_failure(std::string what) {
  return [what = std::move(what)](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      ADD_FAILURE() << "WebhookReceiver " << what << ": " << x.what();
    }
  };
}

}  // namespace

// Constant after construction: options_ (but for status_), tls_, port_.
// Guarded by mu_: received_ (cv_ signals each addition).
// io thread only: acceptor_, connections_, stopping_.
class WebhookReceiver::Server {
 public:
  explicit Server(Options options) : options_(std::move(options)), status_(options_.status) {
    if (!options_.cert_file.empty() && !options_.key_file.empty()) {
      tls_ = std::make_unique<ssl::context>(ssl::context::tls_server);
      tls_->use_certificate_chain_file(options_.cert_file);
      tls_->use_private_key_file(options_.key_file, ssl::context::pem);
    }
    const tcp::endpoint listen(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(listen.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(listen);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, accept_loop(), report_failure("accept loop"));
    thread_ = std::thread([this] { io_.run(); });
  }

  // Drains rather than stopping the io_context: once the listener and every connection are
  // closed, each coroutine ends at its next step and run() returns for want of work.
  ~Server() {
    asio::post(io_, [this] {
      stopping_ = true;
      beast::error_code ignored;
      acceptor_.close(ignored);
      for (auto& weak : connections_)
        if (auto c = weak.lock()) c->close();
    });
    thread_.join();
  }

  int port() const { return port_; }
  bool tls() const { return tls_ != nullptr; }
  void set_status(int status) { status_ = status; }

  std::vector<Received> received() const {
    std::lock_guard lock(mu_);
    return received_;
  }

  bool wait_for(size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return received_.size() >= n; });
  }

 private:
  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(kNoThrow);
      if (stopping_) co_return;
      if (ec) {
        ADD_FAILURE() << "WebhookReceiver accept: " << ec.message();
        co_return;
      }
      std::erase_if(connections_, [](const auto& weak) { return weak.expired(); });
      if (tls_) {
        auto c = std::make_shared<Connection<TlsStream>>(io_, std::move(socket), *tls_);
        connections_.push_back(c);
        asio::co_spawn(io_, serve(c), report_failure("connection"));
      } else {
        auto c = std::make_shared<Connection<PlainStream>>(io_, std::move(socket));
        connections_.push_back(c);
        asio::co_spawn(io_, serve(c), report_failure("connection"));
      }
    }
  }

  template <class Stream>
  asio::awaitable<void> serve(std::shared_ptr<Connection<Stream>> c) {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      auto [ec] = co_await c->stream.async_handshake(ssl::stream_base::server, kNoThrow);
      if (ec || c->closed) co_return;
    }
    beast::flat_buffer buffer;
    for (;;) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(1 << 20);
      auto [ec, n] = co_await http::async_read(c->stream, buffer, parser, kNoThrow);
      if (ec || c->closed) co_return;
      const auto& req = parser.get();
      record(req);

      if (options_.hang) {  // until the client closes or the destructor does
        char byte;
        for (;;) {
          auto [rec, rn] = co_await c->stream.async_read_some(asio::buffer(&byte, 1), kNoThrow);
          if (rec || c->closed) co_return;
        }
      }
      if (options_.delay.count() > 0) {
        c->timer.expires_after(options_.delay);
        co_await c->timer.async_wait(kNoThrow);
        if (c->closed) co_return;
      }
      const std::string reply = serialize_reply(req);
      if (options_.drip.count() > 0) {
        for (char byte : reply) {
          auto [wec, wn] = co_await asio::async_write(c->stream, asio::buffer(&byte, 1), kNoThrow);
          if (wec || c->closed) co_return;
          c->timer.expires_after(options_.drip);
          co_await c->timer.async_wait(kNoThrow);
          if (c->closed) co_return;
        }
      } else {
        auto [wec, wn] = co_await asio::async_write(c->stream, asio::buffer(reply), kNoThrow);
        if (wec || c->closed) co_return;
      }
      if (!req.keep_alive()) co_return;  // the stream closes with the connection
    }
  }

  void record(const http::request<http::string_body>& req) {
    Received r;
    r.method = req.method_string();
    r.target = req.target();
    for (const auto& field : req) {
      std::string& value = r.headers[lowercase(field.name_string())];
      if (!value.empty()) value += ", ";
      value += field.value();
    }
    r.body = req.body();
    {
      std::lock_guard lock(mu_);
      received_.push_back(std::move(r));
    }
    cv_.notify_all();
  }

  std::string serialize_reply(const http::request<http::string_body>& req) const {
    http::response<http::string_body> res{static_cast<http::status>(status_.load()), req.version()};
    res.set(http::field::server, "metricsd-test-webhook-receiver");
    for (const auto& [name, value] : options_.reply_headers)
      res.insert(name, value);
    res.body() = options_.reply_body;
    if (options_.chunked)
      res.chunked(true);
    else
      res.prepare_payload();
    res.keep_alive(req.keep_alive());
    std::ostringstream out;
    out << res;
    return out.str();
  }

  const Options options_;
  std::atomic<int> status_;
  std::unique_ptr<ssl::context> tls_;
  int port_ = 0;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<Received> received_;

  asio::io_context io_{1};
  tcp::acceptor acceptor_{io_};
  std::vector<std::weak_ptr<Closable>> connections_;
  bool stopping_ = false;
  std::thread thread_;  // last: started when everything above exists
};

WebhookReceiver::WebhookReceiver() : WebhookReceiver(Options{}) {}

WebhookReceiver::WebhookReceiver(Options options)
    : server_(std::make_unique<Server>(std::move(options))) {}

WebhookReceiver::~WebhookReceiver() = default;

int WebhookReceiver::port() const {
  return server_->port();
}

std::string WebhookReceiver::url(const std::string& target) const {
  return (server_->tls() ? "https://127.0.0.1:" : "http://127.0.0.1:") +
         std::to_string(server_->port()) + target;
}

std::vector<WebhookReceiver::Received> WebhookReceiver::received() const {
  return server_->received();
}

bool WebhookReceiver::wait_for(size_t n, std::chrono::milliseconds timeout) const {
  return server_->wait_for(n, timeout);
}

void WebhookReceiver::set_status(int status) {
  server_->set_status(status);
}

}  // namespace metricsd::test
