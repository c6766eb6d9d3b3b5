// The /ws/metrics WebSocket session; see ws_session.hpp.
#include "server/ws_session.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <mutex>

#include "core/log_escape.hpp"
#include "core/stream_client_queue.hpp"
#include "core/stream_protocol.hpp"
#include "server/auth.hpp"

namespace metricsd::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using namespace std::chrono_literals;
using stream::ClientQueue;
using stream::Payload;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// Subscription changes one client may have waiting in the hub; beyond: rate_limited.
constexpr int kMaxPendingUpdates = 16;
// A close handshake (or a write stuck behind a client that stopped reading) is cut after this.
constexpr auto kCloseTimeout = 2s;

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Payload text(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

// Next: beast::tcp_stream, or beast::ssl_stream<beast::tcp_stream> under TLS.
template <class Next>
class WsSession : public StreamSink, public std::enable_shared_from_this<WsSession<Next>> {
 public:
  WsSession(Next s, const StreamContext& ctx, std::string remote)
      : ws_(std::move(s)),
        ctx_(ctx),
        remote_(std::move(remote)),
        queue_(static_cast<size_t>(ctx.settings.stream_max_client_queue),
               ctx.settings.stream_max_lag_ms),
        wake_(ws_.get_executor(), asio::steady_timer::time_point::max()),
        recheck_(ws_.get_executor()),
        limits_{static_cast<size_t>(ctx.settings.stream_max_channels)} {}

  asio::awaitable<void> run(http::request<http::string_body> req, api::Request authorized);

  // StreamSink: any thread.
  void deliver_metrics(Payload message, uint32_t samples) override {
    offer([&](ClientQueue& q) { return q.push_metrics(std::move(message), samples, steady_ms()); },
          samples);
  }
  void deliver_control(Payload message) override {
    offer([&](ClientQueue& q) { return q.push_control(std::move(message), steady_ms()); }, 0);
  }
  void close(uint16_t code, const char* reason) override {
    asio::post(ws_.get_executor(), [self = this->shared_from_this(), code, reason] {
      self->start_close(code, reason);
    });
  }

 private:
  template <class Push>
  void offer(Push&& push, uint32_t samples);
  void wake_writer();
  asio::awaitable<void> write_loop();
  asio::awaitable<void> recheck_loop(api::Request authorized);
  void handle(std::string_view text);
  void reply_error(const stream::RequestError& e);
  void subscribe(stream::Request& r);
  void unsubscribe(stream::Request& r);
  void start_close(uint16_t code, const char* reason);  // on the strand
  const char* end_reason(const beast::error_code& ec) const;

  websocket::stream<Next> ws_;
  const StreamContext& ctx_;
  const std::string remote_;
  stream::ClientId id_ = 0;

  std::mutex mu_;  // guards queue_, writer_waiting_, refuse_
  ClientQueue queue_;
  bool writer_waiting_ = false;  // the writer sleeps on wake_ and must be woken
  bool refuse_ = false;          // closing: accept nothing more

  // On the strand only.
  asio::steady_timer wake_;
  asio::steady_timer recheck_;
  stream::Limits limits_;
  std::vector<stream::Channel> channels_;
  std::vector<std::string> nodes_;
  bool closing_ = false, ended_ = false;
  const char* close_reason_ = nullptr;  // set when the server started the close
  std::shared_ptr<std::atomic<int>> pending_ = std::make_shared<std::atomic<int>>(0);
  uint64_t sent_ = 0;
};

template <class Next>
template <class Push>
void WsSession<Next>::offer(Push&& push, uint32_t samples) {
  ClientQueue::Offer r;
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (refuse_) return;
    r = push(queue_);
    // One close verdict is enough: refuse the rest until the close starts.
    if (r == ClientQueue::Offer::kTooSlow || r == ClientQueue::Offer::kOverflow) refuse_ = true;
    if (r == ClientQueue::Offer::kQueued && writer_waiting_) {
      writer_waiting_ = false;
      wake = true;
    }
  }
  switch (r) {
    case ClientQueue::Offer::kQueued:
      if (wake) wake_writer();
      break;
    case ClientQueue::Offer::kShed:
      ctx_.metrics.shed_samples.inc(samples);
      ctx_.metrics.shed_messages.inc();
      break;
    case ClientQueue::Offer::kTooSlow:
      close(1013, "too_slow");
      break;
    case ClientQueue::Offer::kOverflow:
      close(1008, "policy");
      break;
  }
}

template <class Next>
void WsSession<Next>::wake_writer() {
  asio::post(ws_.get_executor(), [self = this->shared_from_this()] { self->wake_.cancel(); });
}

template <class Next>
asio::awaitable<void> WsSession<Next>::write_loop() {
  auto self = this->shared_from_this();
  for (;;) {
    std::optional<ClientQueue::Popped> m;
    {
      std::lock_guard lock(mu_);
      m = queue_.pop();
      writer_waiting_ = !m;
    }
    if (closing_ || ended_) co_return;
    if (!m) {
      wake_.expires_at(asio::steady_timer::time_point::max());
      co_await wake_.async_wait(kTuple);
      continue;
    }
    auto [ec, n] = co_await ws_.async_write(asio::buffer(*m->payload), kTuple);
    if (ec) {
      // The socket is gone: make sure the reader notices too.
      if (!closing_) beast::get_lowest_layer(ws_).close();
      co_return;
    }
    ++sent_;
    ctx_.metrics.messages_sent.inc();
    ctx_.metrics.bytes_sent.inc(static_cast<double>(n));
    if (m->samples > 0) ctx_.metrics.samples_delivered.inc(m->samples);
  }
}

template <class Next>
asio::awaitable<void> WsSession<Next>::recheck_loop(api::Request authorized) {
  auto self = this->shared_from_this();
  auto period = std::chrono::milliseconds(std::max<int64_t>(1000, ctx_.settings.auth_cache_ttl_ms));
  for (;;) {
    recheck_.expires_after(period);
    co_await recheck_.async_wait(kTuple);
    if (closing_ || ended_) co_return;
    std::exception_ptr failed;
    try {
      // Spends no request budget: idle streams cost their token nothing.
      co_await ctx_.auth->recheck(authorized, Access::kViewer, /*allow_query_token=*/true);
    } catch (...) {
      failed = std::current_exception();
    }
    if (!failed || closing_ || ended_) continue;
    try {
      std::rethrow_exception(failed);
    } catch (const api::ApiError& e) {
      if (e.status() == 401 || e.status() == 403) {
        spdlog::info("{} /ws/metrics: token no longer allowed ({}); closing", remote_,
                     escape_for_log(e.what()));
        start_close(1008, "unauthorized");
        co_return;
      }
      // 503 and the like: the token may still be good; check again next time.
    } catch (const std::exception&) {
      // The database is unreachable: keep streaming, check again next time.
    }
  }
}

template <class Next>
void WsSession<Next>::start_close(uint16_t code, const char* reason) {
  if (closing_ || ended_) return;
  closing_ = true;
  close_reason_ = reason;
  {
    std::lock_guard lock(mu_);
    refuse_ = true;
  }
  wake_.cancel();
  asio::co_spawn(
      ws_.get_executor(),
      [self = this->shared_from_this(), code]() -> asio::awaitable<void> {
        // A client that stopped reading never lets the close frame out: cut it.
        asio::steady_timer cut(self->ws_.get_executor(), kCloseTimeout);
        cut.async_wait([self](beast::error_code ec) {
          if (!ec) beast::get_lowest_layer(self->ws_).close();
        });
        co_await self->ws_.async_close(websocket::close_reason(code), kTuple);
        cut.cancel();
      },
      asio::detached);
}

template <class Next>
void WsSession<Next>::reply_error(const stream::RequestError& e) {
  ctx_.metrics.client_errors.with({e.code}).inc();
  deliver_control(text(stream::encode_error(e)));
}

template <class Next>
void WsSession<Next>::handle(std::string_view message) {
  auto parsed = stream::parse_request(message, limits_);
  if (auto* e = std::get_if<stream::RequestError>(&parsed)) {
    reply_error(*e);
    return;
  }
  auto& r = std::get<stream::Request>(parsed);
  switch (r.op) {
    case stream::Request::Op::kPing:
      deliver_control(text(stream::encode_pong(r.id)));
      return;
    case stream::Request::Op::kSubscribe:
      subscribe(r);
      return;
    case stream::Request::Op::kUnsubscribe:
      unsubscribe(r);
      return;
  }
}

template <class Next>
void WsSession<Next>::subscribe(stream::Request& r) {
  std::vector<stream::Channel> next = channels_;
  for (const auto& c : r.channels)
    if (std::find(next.begin(), next.end(), c) == next.end()) next.push_back(c);
  if (next.size() > limits_.max_channels) {
    reply_error({r.id,
                 "invalid_argument",
                 "too many channels: " + std::to_string(next.size()) +
                     " would be subscribed, at most " + std::to_string(limits_.max_channels) +
                     " (stream.max_channels)",
                 {{{"field", "channels"}, {"limit", limits_.max_channels}}}});
    return;
  }
  if (pending_->load() >= kMaxPendingUpdates) {
    reply_error({r.id, "rate_limited", "too many subscription changes in flight; retry shortly"});
    return;
  }
  StreamHub::Update u;
  u.client = id_;
  u.channels = next;
  u.nodes = r.nodes ? *r.nodes : nodes_;
  u.ack = text(stream::encode_subscribed("subscribed", r.id, next));
  u.send_snapshot = true;
  u.snapshot = r.channels;
  u.request_id = r.id;
  u.pending = pending_;
  auto nodes = u.nodes;
  pending_->fetch_add(1);
  if (!ctx_.hub.update(std::move(u))) {
    pending_->fetch_sub(1);
    reply_error({r.id, "unavailable", "the stream hub is busy; retry shortly"});
    return;
  }
  channels_ = std::move(next);
  nodes_ = std::move(nodes);
}

template <class Next>
void WsSession<Next>::unsubscribe(stream::Request& r) {
  std::vector<stream::Channel> next;
  if (!r.all_channels)
    for (const auto& c : channels_)
      if (std::find(r.channels.begin(), r.channels.end(), c) == r.channels.end()) next.push_back(c);
  if (pending_->load() >= kMaxPendingUpdates) {
    reply_error({r.id, "rate_limited", "too many subscription changes in flight; retry shortly"});
    return;
  }
  StreamHub::Update u;
  u.client = id_;
  u.channels = next;
  u.nodes = nodes_;
  u.ack = text(stream::encode_subscribed("unsubscribed", r.id, next));
  u.pending = pending_;
  pending_->fetch_add(1);
  if (!ctx_.hub.update(std::move(u))) {
    pending_->fetch_sub(1);
    reply_error({r.id, "unavailable", "the stream hub is busy; retry shortly"});
    return;
  }
  channels_ = std::move(next);
}

template <class Next>
const char* WsSession<Next>::end_reason(const beast::error_code& ec) const {
  if (close_reason_) return close_reason_;
  if (ec == websocket::error::closed) return "client";
  if (ec == beast::error::timeout) return "timeout";
  if (ec == websocket::error::message_too_big) return "message_too_big";
  if (ec == asio::error::eof || ec == asio::error::connection_reset) return "disconnect";
  return "error";
}

template <class Next>
asio::awaitable<void> WsSession<Next>::run(http::request<http::string_body> req,
                                           api::Request authorized) {
  const auto& s = ctx_.settings;
  beast::get_lowest_layer(ws_).expires_never();  // the WebSocket timeouts take over
  websocket::stream_base::timeout timeouts;
  timeouts.handshake_timeout = 5s;
  timeouts.idle_timeout = std::chrono::milliseconds(2 * s.stream_ping_interval_ms);
  timeouts.keep_alive_pings = true;  // a ping after half the idle timeout
  ws_.set_option(timeouts);
  websocket::permessage_deflate pmd;
  pmd.server_enable = true;         // used only when the client offers it
  pmd.server_max_window_bits = 13;  // ~40 KiB of zlib state per client instead of ~300
  pmd.memLevel = 5;
  pmd.compLevel = 3;
  pmd.msg_size_threshold = 128;  // smaller messages go out uncompressed
  ws_.set_option(pmd);
  ws_.read_message_max(static_cast<uint64_t>(16 * s.stream_max_message_bytes));
  ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(http::field::server, "metricsd"); }));
  ws_.text(true);
  auto [aec] = co_await ws_.async_accept(req, kTuple);
  if (aec) {
    ctx_.hub.release();
    ctx_.metrics.closes.with({"handshake_failed"}).inc();
    spdlog::info("{} /ws/metrics handshake failed: {}", remote_, aec.message());
    co_return;
  }
  ctx_.metrics.connections.inc();
  id_ = ctx_.hub.attach(this->weak_from_this());
  if (ctx_.hub.closing()) start_close(1001, "shutdown");  // attached after the shutdown began
  if (ctx_.auth && ctx_.auth->enabled())
    asio::co_spawn(ws_.get_executor(), recheck_loop(std::move(authorized)), asio::detached);
  asio::co_spawn(ws_.get_executor(), write_loop(), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      spdlog::error("stream writer stopped by an unexpected error: {}", x.what());
    }
  });
  beast::flat_buffer buffer;
  beast::error_code ec;
  for (;;) {
    auto [rec, n] = co_await ws_.async_read(buffer, kTuple);
    if (rec) {
      ec = rec;
      break;
    }
    if (!closing_) {
      if (!ws_.got_text()) {
        reply_error({nullptr,
                     "invalid_argument",
                     "binary frames are not understood; send JSON text",
                     {{{"field", "message"}}}});
      } else if (buffer.size() > static_cast<size_t>(s.stream_max_message_bytes)) {
        reply_error({nullptr,
                     "payload_too_large",
                     "message of " + std::to_string(buffer.size()) + " bytes exceeds " +
                         std::to_string(s.stream_max_message_bytes) + " (stream.max_message_bytes)",
                     {{{"field", "message"}, {"limit", s.stream_max_message_bytes}}}});
      } else {
        auto data = buffer.cdata();
        handle(std::string_view(static_cast<const char*>(data.data()), data.size()));
      }
    }
    buffer.consume(buffer.size());
  }
  ended_ = true;
  {
    std::lock_guard lock(mu_);
    refuse_ = true;
  }
  wake_.cancel();
  recheck_.cancel();
  const char* reason = end_reason(ec);
  ctx_.metrics.closes.with({reason}).inc();
  ctx_.hub.detach(id_);
  ctx_.hub.release();
  uint64_t shed = 0;
  {
    std::lock_guard lock(mu_);
    shed = queue_.shed_samples_total();
  }
  spdlog::info("{} /ws/metrics closed ({}): {} messages sent, {} samples shed", remote_, reason,
               sent_, shed);
}

}  // namespace

asio::awaitable<void> run_ws_session(beast::tcp_stream stream,
                                     http::request<http::string_body> upgrade,
                                     api::Request authorized, const StreamContext& ctx,
                                     std::string remote) {
  auto session =
      std::make_shared<WsSession<beast::tcp_stream>>(std::move(stream), ctx, std::move(remote));
  co_await session->run(std::move(upgrade), std::move(authorized));
}

asio::awaitable<void> run_ws_session(beast::ssl_stream<beast::tcp_stream> stream,
                                     http::request<http::string_body> upgrade,
                                     api::Request authorized, const StreamContext& ctx,
                                     std::string remote) {
  auto session = std::make_shared<WsSession<beast::ssl_stream<beast::tcp_stream>>>(
      std::move(stream), ctx, std::move(remote));
  co_await session->run(std::move(upgrade), std::move(authorized));
}

}  // namespace metricsd::server
