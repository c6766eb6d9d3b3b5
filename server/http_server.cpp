// The listener and connection registry; see http_server.hpp.
#include "server/http_server.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <unordered_map>

#include "core/thread_name.hpp"
#include "server/address_filter.hpp"
#include "server/http_session.hpp"
#include "server/spawn.hpp"

namespace metricsd::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

struct HttpServer::Impl {
  Impl(asio::io_context& io, const Settings& s, const Router& r, api::Authorizer& auth,
       const CorsPolicy& cors, prom::Registry& m, const StreamContext* stream)
      : ioc(io),
        settings(s),
        acceptor(asio::make_strand(io)),
        body_budget(ByteBudget::create(s.limits_max_inflight_body_bytes)),
        ctx{s,
            r,
            auth,
            cors,
            stopping,
            m.counter("metricsd_http_requests_total", "HTTP requests answered",
                      {"method", "route", "status"}),
            m.histogram("metricsd_http_request_duration_seconds",
                        "Time from the first header byte to the answer written", {"route"},
                        prom::latency_bounds_seconds()),
            m.counter("metricsd_http_read_errors_total",
                      "Requests that could not be read, or were refused before their handler "
                      "(timeouts, limits, malformed or ambiguous framing, body budget)",
                      {"kind"}),
            m.counter("metricsd_http_internal_errors_total", "Handler failures answered with 500")
                .get(),
            m.counter("metricsd_http_stream_aborted_total",
                      "Streamed answers cut short after their head was sent (producer_error: "
                      "the body could not be produced; write_failed: the client went away or "
                      "read too slowly)",
                      {"reason"}),
            *body_budget,
            housekeeping,
            stream},
        connections_total(
            m.counter("metricsd_http_connections_total", "Connections accepted").get()),
        refused(m.counter("metricsd_http_connections_refused_total",
                          "Connections refused at accept (http.max_connections or "
                          "http.max_connections_per_addr reached)",
                          {"limit"})) {
    m.gauge_fn("metricsd_http_connections", "Open HTTP connections",
               [this] { return static_cast<double>(active_connections()); });
    asio::post(housekeeping, [] { name_this_thread("md-http-house"); });
    m.gauge_fn("metricsd_http_inflight_body_bytes",
               "Bytes held for request bodies being received, all connections together "
               "(bounded by limits.max_inflight_body_bytes)",
               [b = body_budget] { return static_cast<double>(b->in_use()); });
  }

  size_t active_connections() const {
    std::lock_guard lock(mu);
    return sessions.size();
  }

  asio::awaitable<void> accept_loop();
  void spawn_session(tcp::socket socket);
  void refuse_address(tcp::socket& socket);

  asio::io_context& ioc;
  const Settings& settings;
  tcp::acceptor acceptor;
  const TlsContext* tls = nullptr;          // set before start()
  AddressFilter* address_filter = nullptr;  // set before start()
  std::atomic<bool> stopping{false};
  // Shared: a request's reservation may outlive the server (a coroutine frame destroyed
  // with the io_context after a forced stop) and gives its bytes back to it then.
  std::shared_ptr<ByteBudget> body_budget;
  boost::asio::thread_pool housekeeping{1};  // joined when the server goes
  SessionContext ctx;
  prom::Counter& connections_total;
  prom::Family<prom::Counter>& refused;

  mutable std::mutex mu;  // guards sessions, per_addr, next_id
  std::unordered_map<uint64_t, std::weak_ptr<SessionState>> sessions;
  std::unordered_map<std::string, int64_t> per_addr;  // open connections by client address
  uint64_t next_id = 0;
};

asio::awaitable<void> HttpServer::Impl::accept_loop() {
  for (;;) {
    auto [ec, socket] =
        co_await acceptor.async_accept(asio::make_strand(ioc), asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || stopping.load()) co_return;
    if (ec) {
      // Out of file descriptors and the like: say so, back off briefly, keep serving.
      spdlog::warn("accept failed: {}", ec.message());
      ctx.read_errors.with({"accept"}).inc();
      asio::steady_timer t(acceptor.get_executor(), std::chrono::milliseconds(50));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    spawn_session(std::move(socket));
  }
}

// A short 403 without reading the request (plain HTTP only), then close. Non-blocking: if
// the socket cannot take it at once, the client just sees the close.
void HttpServer::Impl::refuse_address(tcp::socket& socket) {
  static const std::string kBody =
      R"({"error":{"code":"permission_denied","message":"connections from this address are )"
      R"(not allowed","details":[]}})";
  static const std::string kRefused = fmt::format(
      "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nConnection: close\r\n"
      "Content-Length: {}\r\n\r\n{}",
      kBody.size(), kBody);
  beast::error_code ignored;
  socket.non_blocking(true, ignored);
  if (!tls) socket.write_some(asio::buffer(kRefused), ignored);
  socket.close(ignored);
}

void HttpServer::Impl::spawn_session(tcp::socket socket) {
  connections_total.inc();
  beast::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  std::string addr;
  {
    auto ep = socket.remote_endpoint(ignored);
    if (!ignored) addr = ep.address().to_string();
    // network.deny / network.allow: closed before anything is read. (A peer whose address
    // cannot be read is gone already.)
    if (!ignored && address_filter && !address_filter->admit(ep.address())) {
      refuse_address(socket);
      return;
    }
  }
  auto state = std::make_shared<SessionState>(beast::tcp_stream(std::move(socket)),
                                              tls ? tls->current() : nullptr);
  uint64_t id = 0;
  {
    std::lock_guard lock(mu);
    const char* limit = nullptr;
    if (sessions.size() >= static_cast<size_t>(settings.http_max_connections))
      limit = "total";
    else if (per_addr[addr] >= settings.http_max_connections_per_addr)
      limit = "per_addr";
    if (limit) {
      refused.with({limit}).inc();
      if (per_addr[addr] == 0) per_addr.erase(addr);
      // A short answer without reading the request, then close. Non-blocking: if the
      // socket cannot take it at once, the client just sees the close.
      static const std::string kBody =
          R"({"error":{"code":"unavailable","message":"too many connections","details":[]}})";
      static const std::string kBusy = fmt::format(
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
          "Retry-After: 1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{}",
          kBody.size(), kBody);
      state->tcp().socket().non_blocking(true, ignored);
      if (!tls) state->tcp().socket().write_some(asio::buffer(kBusy), ignored);
      state->tcp().close();
      return;
    }
    id = ++next_id;
    sessions.emplace(id, state);
    ++per_addr[addr];
  }
  auto ex = state->executor;
  asio::co_spawn(ex, run_session(state, ctx), [this, id, addr](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        spdlog::error("connection ended by an unexpected error: {}", x.what());
        ctx.internal_errors.inc();
      }
    }
    std::lock_guard lock(mu);
    sessions.erase(id);
    if (--per_addr[addr] <= 0) per_addr.erase(addr);
  });
}

HttpServer::HttpServer(asio::io_context& ioc, const Settings& settings, const Router& router,
                       api::Authorizer& auth, const CorsPolicy& cors, prom::Registry& metrics,
                       const StreamContext* stream)
    : impl_(std::make_unique<Impl>(ioc, settings, router, auth, cors, metrics, stream)) {}

HttpServer::~HttpServer() = default;

void HttpServer::set_tls(const TlsContext* tls) {
  impl_->tls = tls;
}
bool HttpServer::tls() const {
  return impl_->tls != nullptr;
}

void HttpServer::set_address_filter(AddressFilter* filter) {
  impl_->address_filter = filter;
  impl_->ctx.address_filter = filter;
}

void HttpServer::listen() {
  const std::string& listen = impl_->settings.listen;
  auto colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  std::string port = listen.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  beast::error_code ec;
  tcp::resolver resolver(impl_->ioc);
  auto results =
      resolver.resolve(host, port, tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty())
    throw std::runtime_error(
        fmt::format("listen {}: cannot resolve {}: {}", listen, host, ec.message()));
  tcp::endpoint ep = results.begin()->endpoint();
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error(fmt::format("listen {}: {}", listen, ec.message()));
}

std::string HttpServer::local_address() const {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  if (ec) return "?";
  auto addr = ep.address().to_string();
  if (ep.address().is_v6()) addr = "[" + addr + "]";
  return addr + ":" + std::to_string(ep.port());
}

void HttpServer::start() {
  spawn_logged(impl_->acceptor.get_executor(), impl_->accept_loop(), "accept loop");
}

void HttpServer::begin_shutdown() {
  impl_->stopping = true;
  asio::post(impl_->acceptor.get_executor(), [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  std::lock_guard lock(impl_->mu);
  for (auto& [id, weak] : impl_->sessions) {
    if (auto s = weak.lock()) {
      asio::post(s->executor, [s] {
        if (s->idle && !s->upgraded) s->tcp().cancel();  // busy ones close after their answer
      });
    }
  }
}

size_t HttpServer::active_connections() const {
  return impl_->active_connections();
}

void HttpServer::close_all() {
  std::lock_guard lock(impl_->mu);
  for (auto& [id, weak] : impl_->sessions)
    if (auto s = weak.lock())
      asio::post(s->executor, [s] {
        if (!s->upgraded) s->tcp().close();  // WebSocket sessions close themselves
      });
}

}  // namespace metricsd::server
