// The WebSocket test client; see ws_client.hpp.
#include "ws_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <future>
#include <stdexcept>
#include <thread>

namespace metricsd::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using nlohmann::json;
using namespace std::chrono_literals;

struct WsClient::Impl {
  asio::io_context ioc;
  websocket::stream<beast::tcp_stream> ws{ioc};
  beast::flat_buffer buffer;
  std::thread thread;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(ioc);

  mutable std::mutex mu;  // guards everything below
  std::condition_variable cv;
  std::deque<std::pair<std::string, int64_t>> messages;  // text, receipt unix ms
  bool ended = false;
  int close_code = 0;
  size_t received = 0, bytes = 0;

  void read_next() {
    ws.async_read(buffer, [this](beast::error_code ec, size_t n) {
      std::lock_guard lock(mu);
      if (ec) {
        ended = true;
        close_code = ws.reason().code;
        cv.notify_all();
        return;
      }
      auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
      messages.emplace_back(beast::buffers_to_string(buffer.data()), now);
      buffer.consume(n);
      ++received;
      bytes += n;
      cv.notify_all();
      read_next();
    });
  }
};

WsClient::WsClient(int port, WsOptions o) : impl_(std::make_unique<Impl>()) {
  auto& ws = impl_->ws;
  auto& sock = beast::get_lowest_layer(ws).socket();
  sock.open(tcp::v4());
  if (o.receive_buffer > 0)
    sock.set_option(asio::socket_base::receive_buffer_size(o.receive_buffer));
  beast::get_lowest_layer(ws).expires_after(10s);
  beast::get_lowest_layer(ws).connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)));
  if (o.deflate) {
    websocket::permessage_deflate pmd;
    pmd.client_enable = true;
    ws.set_option(pmd);
  }
  auto headers = o.headers;
  bool auth_given = o.target.find("access_token=") != std::string::npos;
  for (const auto& [k, v] : headers)
    auth_given |= beast::iequals(k, "authorization");
  if (!auth_given)
    if (auto t = admin_token(port); !t.empty())
      headers.emplace_back("Authorization", "Bearer " + t);
  ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& req) {
    for (const auto& [k, v] : headers)
      req.set(k, v);
  }));
  websocket::response_type res;
  beast::error_code ec;
  ws.handshake(res, "127.0.0.1:" + std::to_string(port), o.target, ec);
  if (ec)
    throw std::runtime_error("WebSocket upgrade failed: " + ec.message() + " (HTTP " +
                             std::to_string(res.result_int()) + ")");
  extensions_ = std::string(res[beast::http::field::sec_websocket_extensions]);
  deflate_ = extensions_.find("permessage-deflate") != std::string::npos;
  beast::get_lowest_layer(ws).expires_never();
  ws.text(true);
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
  if (o.read) start_reading();
}

WsClient::~WsClient() {
  asio::post(impl_->ioc, [this] {
    beast::error_code ignored;
    beast::get_lowest_layer(impl_->ws).socket().close(ignored);
  });
  impl_->work.reset();
  impl_->thread.join();
}

void WsClient::start_reading() {
  asio::post(impl_->ioc, [this] { impl_->read_next(); });
}

bool WsClient::send(const std::string& text, std::chrono::milliseconds timeout) {
  auto done = std::make_shared<std::promise<bool>>();
  auto f = done->get_future();
  auto payload = std::make_shared<std::string>(text);
  asio::post(impl_->ioc, [this, done, payload] {
    impl_->ws.async_write(asio::buffer(*payload),
                          [done, payload](beast::error_code ec, size_t) { done->set_value(!ec); });
  });
  if (f.wait_for(timeout) != std::future_status::ready) return false;
  return f.get();
}

void WsClient::close() {
  asio::post(impl_->ioc, [this] {
    impl_->ws.async_close(websocket::close_code::normal, [](beast::error_code) {});
  });
}

std::optional<json> WsClient::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  if (!impl_->cv.wait_for(lock, timeout, [&] { return !impl_->messages.empty() || impl_->ended; }))
    return std::nullopt;
  if (impl_->messages.empty()) return std::nullopt;
  std::string text = std::move(impl_->messages.front().first);
  last_receipt_ms_ = impl_->messages.front().second;
  impl_->messages.pop_front();
  return json::parse(text);
}

std::optional<json> WsClient::next_of(std::string_view type, std::chrono::milliseconds timeout,
                                      std::vector<json>* skipped) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    auto m = next(left);
    if (!m) return std::nullopt;
    if ((*m)["type"] == type) return m;
    if (skipped) skipped->push_back(std::move(*m));
  }
}

std::optional<int> WsClient::wait_closed(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  if (!impl_->cv.wait_for(lock, timeout, [&] { return impl_->ended; })) return std::nullopt;
  return impl_->close_code;
}

size_t WsClient::messages_received() const {
  std::lock_guard lock(impl_->mu);
  return impl_->received;
}

size_t WsClient::bytes_received() const {
  std::lock_guard lock(impl_->mu);
  return impl_->bytes;
}

HttpResult try_upgrade(int port, const std::string& target,
                       const std::vector<std::pair<std::string, std::string>>& headers) {
  std::vector<std::pair<std::string, std::string>> h = {
      {"Upgrade", "websocket"},
      {"Connection", "Upgrade"},
      {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
      {"Sec-WebSocket-Version", "13"}};
  h.insert(h.end(), headers.begin(), headers.end());
  return http_request(port, "GET", target, "", h);
}

}  // namespace metricsd::test
