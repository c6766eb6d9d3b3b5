// The HTTP connection coroutine; see http_session.hpp.
#include "server/http_session.hpp"

#include <spdlog/spdlog.h>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <chrono>
#include <optional>

#include "api/errors.hpp"
#include "core/log_escape.hpp"
#include "server/address_filter.hpp"
#include "server/auth.hpp"
#include "server/cors.hpp"
#include "server/request_body.hpp"
#include "server/request_framing.hpp"
#include "server/request_target.hpp"
#include "server/streamed_write.hpp"
#include "server/ws_session.hpp"

namespace metricsd::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using namespace std::chrono_literals;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

using Parser = RequestParser;
using HttpResponse = http::response<http::string_body>;

std::string method_label(std::string_view m) {
  for (std::string_view k : {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
    if (m == k) return std::string(k);
  return "other";
}

api::Response error(int status, std::string message,
                    nlohmann::json details = nlohmann::json::array()) {
  return api::error_response(api::ApiError(status, std::string(api::error_code_for_status(status)),
                                           std::move(message), std::move(details)));
}

// A failure as the JSON error model (api/errors), logging server-side failures once.
api::Response error_from(std::exception_ptr ep, const api::Request& req,
                         const SessionContext& ctx) {
  auto mapped = api::map_error(ep);
  if (mapped.internal) {
    ctx.internal_errors.inc();
    spdlog::error("{} {}: internal error: {}", escape_for_log(req.method), req.route,
                  escape_for_log(mapped.cause));
  } else if (mapped.error.status() >= 500) {
    spdlog::warn("{} {}: {} {}", escape_for_log(req.method), req.route, mapped.error.status(),
                 escape_for_log(mapped.cause));
  }
  return api::error_response(mapped.error);
}

// One line for the log: what a streamed body's producer failed with.
std::string describe(std::exception_ptr ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

// The limits on the target's length and the number of header fields.
std::optional<api::Response> check_head_limits(const api::Request& req, const SessionContext& ctx) {
  const auto& s = ctx.settings;
  if (req.target.size() > static_cast<size_t>(s.http_max_url_bytes)) {
    ctx.read_errors.with({"url_too_long"}).inc();
    return error(414, "request target longer than http.max_url_bytes (" +
                          std::to_string(s.http_max_url_bytes) + ")");
  }
  if (req.headers.size() > static_cast<size_t>(s.http_max_header_count)) {
    ctx.read_errors.with({"too_many_headers"}).inc();
    return error(431, "more than http.max_header_count (" +
                          std::to_string(s.http_max_header_count) + ") header fields");
  }
  return std::nullopt;
}

// A WebSocket upgrade from a browser page of an origin http.cors_origins does not allow
// (cross-site WebSocket hijacking: the browser sends the page's cookies and, with
// ?access_token=, whatever token the page holds): 403 before the token is looked at.
// Counted by reason "origin"; logged at most once per 10 s, with how many were not logged.
std::optional<api::Response> check_ws_origin(const api::Request& req, const SessionContext& ctx) {
  if (ctx.cors.allows_ws_origin(req)) return std::nullopt;
  static std::atomic<int64_t> next_log_ms{0};
  static std::atomic<int64_t> unlogged{0};
  if (ctx.live_stream) ctx.live_stream->metrics.refused.with({"origin"}).inc();
  std::string origin(req.header("origin").value_or(""));
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                       .count();
  int64_t due = next_log_ms.load();
  if (now_ms >= due && next_log_ms.compare_exchange_strong(due, now_ms + 10'000))
    spdlog::warn(
        "{} {} refused: WebSocket upgrade from origin {}, which http.cors_origins does not "
        "allow ({} more such refusals not logged)",
        req.remote_addr, escape_for_log(req.path, LogField::kBare),
        escape_for_log(origin, LogField::kBare), unlogged.exchange(0));
  else
    unlogged.fetch_add(1);
  return error(403,
               "WebSocket upgrade from origin " + origin + " refused: not among http.cors_origins",
               {{{"field", "Origin"}}});
}

// Everything decided from the request head, before its body is read: the target's
// shape and size, routing, CORS preflight, authentication and authorization (through
// the Authorizer, with the route's access). Sets *route when the request may go on;
// otherwise returns the answer.
asio::awaitable<std::optional<api::Response>> route_and_authorize(api::Request& req,
                                                                  const SessionContext& ctx,
                                                                  const Route*& route,
                                                                  std::string& route_label) {
  if (auto refused = check_head_limits(req, ctx)) co_return refused;
  std::vector<std::string> segments;
  if (!parse_target(req, segments))
    co_return error(400, "malformed request target", {{{"field", "target"}}});
  if (CorsPolicy::is_preflight(req)) {
    route_label = "preflight";
    co_return ctx.cors.preflight(req);
  }
  RouteMatch m = ctx.router.match(req.method, segments);
  if (m.kind == RouteMatch::Kind::kNotFound) co_return error(404, "no such endpoint: " + req.path);
  if (m.kind == RouteMatch::Kind::kMethodNotAllowed) {
    std::string allow;
    for (const auto& a : m.allowed)
      allow += (allow.empty() ? "" : ", ") + a;
    auto r =
        error(405, "method " + req.method + " not allowed on " + req.path + "; allowed: " + allow);
    r.headers.emplace_back("Allow", allow);
    co_return r;
  }
  route_label = m.route->pattern;
  req.route = m.route->pattern;
  req.path_params = std::move(m.params);
  // The address lists of the route's level come before the token is looked at: a refused
  // address costs no database work and none of the per-address auth budget.
  if (ctx.address_filter)
    if (auto refused = ctx.address_filter->check_route(req, m.route->access)) co_return refused;
  if (m.route->websocket)
    if (auto refused = check_ws_origin(req, ctx)) co_return refused;
  std::exception_ptr failed;
  try {
    // A WebSocket upgrade may carry its token as ?access_token=: browsers cannot set
    // headers on one.
    co_await ctx.auth.authorize(req, m.route->access, /*allow_query_token=*/m.route->websocket);
  } catch (...) {
    failed = std::current_exception();
  }
  if (failed) {
    auto r = error_from(failed, req, ctx);
    if (m.route->websocket && ctx.live_stream)
      ctx.live_stream->metrics.refused.with({std::string(api::error_code_for_status(r.status))})
          .inc();
    if (r.status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
    co_return r;
  }
  route = m.route;
  co_return std::nullopt;
}

// What an authorized request to a WebSocket route must also pass before it is upgraded:
// it is a GET with Upgrade: websocket and nothing after it, the server is not shutting
// down, and stream.max_clients leaves room. nullopt: go ahead, a stream slot is reserved;
// otherwise the answer that refuses it.
std::optional<api::Response> check_upgrade(const http::request<http::string_body>& head,
                                           const Parser& parser, const beast::flat_buffer& buffer,
                                           const api::Request& req, const SessionContext& ctx) {
  if (!ctx.live_stream) return error(404, "no such endpoint: " + req.path);
  if (!beast::websocket::is_upgrade(head)) {
    auto r = error(400, req.path + " is a WebSocket endpoint: send GET with Upgrade: websocket");
    r.headers.emplace_back("Upgrade", "websocket");
    return r;
  }
  if (!parser.is_done() || buffer.size() > 0)
    return error(400, "data sent with or before the WebSocket handshake");
  const StreamContext& st = *ctx.live_stream;
  if (ctx.stopping.load()) {
    st.metrics.refused.with({"shutting_down"}).inc();
    return api::error_response(api::ApiError::unavailable("the server is shutting down", 5));
  }
  if (!st.hub.try_reserve()) {
    st.metrics.refused.with({"max_clients"}).inc();
    spdlog::warn("{} {} refused: stream.max_clients ({}) reached", req.remote_addr,
                 escape_for_log(req.path, LogField::kBare), st.settings.stream_max_clients);
    return api::error_response(api::ApiError::unavailable(
        "too many stream clients (stream.max_clients = " +
            std::to_string(st.settings.stream_max_clients) + "); retry later",
        5));
  }
  return std::nullopt;
}

// Runs the handler and turns every failure into the JSON error model.
asio::awaitable<api::Response> call_handler(const Route& route, api::Request& req,
                                            const SessionContext& ctx) {
  std::exception_ptr failed;
  try {
    co_return co_await route.handler(req);
  } catch (...) {
    failed = std::current_exception();
  }
  co_return error_from(failed, req, ctx);
}

// After answering a request whose body was not read: stop sending, then read and drop
// what the client still sends (bounded), so closing does not reset the connection
// before the client has read the answer.
template <class Io>
asio::awaitable<void> linger(Io& io, beast::tcp_stream& tcp, bool tls) {
  beast::error_code ignored;
  if (!tls) tcp.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  tcp.expires_after(1s);
  std::array<char, 16384> sink;
  size_t total = 0;
  while (total < (size_t{8} << 20)) {
    auto [ec, n] = co_await io.async_read_some(asio::buffer(sink), kTuple);
    if (ec) break;
    total += n;
  }
}

// The status and header fields every answer carries, buffered or streamed.
template <class Body>
http::response<Body> beast_head(api::Response& r, unsigned version, bool keep_alive, bool tls) {
  add_security_headers(r, tls);
  http::response<Body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "metricsd");
  if (!r.content_type.empty()) res.set(http::field::content_type, r.content_type);
  for (auto& [k, v] : r.headers)
    res.set(k, v);
  res.keep_alive(keep_alive);
  return res;
}

HttpResponse to_beast(api::Response&& r, unsigned version, bool keep_alive, bool head, bool tls) {
  auto res = beast_head<http::string_body>(r, version, keep_alive, tls);
  res.body() = std::move(r.body);
  res.prepare_payload();
  if (head) res.body().clear();  // Content-Length stays that of the GET answer
  return res;
}

}  // namespace

namespace {

// One request and its answer as the loop carries them from reading to writing.
struct Exchange {
  std::chrono::steady_clock::time_point started;
  api::Request req;
  api::Response res;
  std::string route_label = "unmatched";
  unsigned version = 11;
  bool close_after = false;  // answer, then close
  bool body_unread = false;  // the client may still be sending: linger after the answer
  // The body's bytes against limits.max_inflight_body_bytes; given back when the request
  // is done with them, or by the destructor on any other path (an error, a disconnect).
  ByteBudget::Reservation body_bytes;
};

// A head refused before routing (framing, Host, obs-fold, Expect): answered, counted, and
// the connection closed, since what follows it cannot be trusted to be framed as we think.
void refuse_head(Exchange& x, const HeadRefusal& r, const SessionContext& ctx) {
  ctx.read_errors.with({r.kind}).inc();
  x.res = error(r.status, r.message);
  x.close_after = true;
  x.body_unread = true;
}

// What the loop does after a step.
enum class Next { kAnswer, kClose, kUpgraded };

// Reads the next request's head. kClose: nothing to answer (closed, timed out, shutdown);
// kAnswer: a head or an error answer (413/431/400) in `x`.
template <class Io>
asio::awaitable<Next> read_request_head(SessionState& state, Io& io, beast::flat_buffer& buffer,
                                        Parser& parser, Exchange& x, const SessionContext& ctx) {
  auto& tcp = state.tcp();
  const auto& s = ctx.settings;
  state.idle = true;
  if (buffer.size() == 0) {
    // Idle keep-alive wait for the first bytes of the next request.
    tcp.expires_after(std::chrono::milliseconds(s.http_idle_timeout_ms));
    auto [ec, n] = co_await io.async_read_some(buffer.prepare(4096), kTuple);
    if (ec) co_return Next::kClose;  // closed, idle timeout, or shutdown
    buffer.commit(n);
  }
  state.idle = false;
  x.started = std::chrono::steady_clock::now();
  parser.header_limit(static_cast<uint32_t>(s.http_max_header_bytes));
  parser.body_limit(static_cast<uint64_t>(s.http_max_body_bytes));
  tcp.expires_after(std::chrono::milliseconds(s.http_header_timeout_ms));
  FoldWatchingBuffer watched(buffer);
  auto [ec, n] = co_await http::async_read_header(io, watched, parser, kTuple);
  if (!ec) {
    const auto& h = parser.get();
    x.req.method = std::string(h.method_string());
    x.version = h.version();
    if (watched.folded()) {
      refuse_head(
          x, {400, "obs_fold", "a header line starts with a space or tab (obsolete line folding)"},
          ctx);
    } else if (auto refused = check_request_head(h)) {
      refuse_head(x, *refused, ctx);
    }
    co_return Next::kAnswer;
  }
  if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted)
    co_return Next::kClose;
  if (ec == beast::error::timeout) {
    // The stream closed the socket when the deadline passed: nothing can be answered.
    ctx.read_errors.with({"header_timeout"}).inc();
    co_return Next::kClose;
  }
  if (ec == http::error::body_limit) {  // Content-Length over the limit
    ctx.read_errors.with({"body_too_large"}).inc();
    x.res = error(413, "request body exceeds http.max_body_bytes (" +
                           std::to_string(s.http_max_body_bytes) + ")");
  } else if (ec == http::error::header_limit) {
    ctx.read_errors.with({"header_too_large"}).inc();
    x.res =
        error(431, "request headers exceed " + std::to_string(s.http_max_header_bytes) + " bytes");
  } else if (auto framing = explain_parse_error(ec, parser.get())) {
    refuse_head(x, *framing, ctx);
    co_return Next::kAnswer;
  } else {
    ctx.read_errors.with({"bad_request"}).inc();
    x.res = error(400, "malformed HTTP request: " + ec.message());
  }
  x.close_after = true;
  x.body_unread = true;  // the rest of the head and the body are still coming
  co_return Next::kAnswer;
}

// The head as handlers see it.
void take_head(const http::request<http::string_body>& h, const std::string& remote, Exchange& x) {
  x.version = h.version();
  x.req.method = std::string(h.method_string());
  x.req.target = std::string(h.target());
  x.req.remote_addr = remote;
  for (const auto& f : h) {
    std::string name(f.name_string());
    for (char& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    x.req.headers.emplace_back(std::move(name), std::string(f.value()));
  }
}

// Routes and authorizes the request whose head was read, then either hands a WebSocket
// upgrade to its session (kUpgraded: the connection is gone from this loop), or reads
// the body and runs the handler; the answer is left in `x` (kAnswer), or kClose when
// the body could not be read and nothing can be answered.
template <class Io>
asio::awaitable<Next> handle_request(std::shared_ptr<SessionState>& state, Io& io,
                                     beast::flat_buffer& buffer, Parser& parser, Exchange& x,
                                     const SessionContext& ctx, const std::string& remote) {
  auto& tcp = state->tcp();
  const auto& s = ctx.settings;
  auto& h = parser.get();
  take_head(h, remote, x);
  // A refused request whose body is still coming is answered, then closed.
  auto refuse = [&](api::Response r) {
    x.res = std::move(r);
    if (!parser.is_done()) {
      x.close_after = true;
      x.body_unread = true;
    } else {
      x.close_after = !h.keep_alive();
    }
  };
  const Route* route = nullptr;
  if (auto refused = co_await route_and_authorize(x.req, ctx, route, x.route_label)) {
    refuse(std::move(*refused));
    co_return Next::kAnswer;
  }
  if (route->websocket) {
    if (auto refused = check_upgrade(h, parser, buffer, x.req, ctx)) {
      refuse(std::move(*refused));
      co_return Next::kAnswer;
    }
    double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - x.started).count();
    ctx.requests.with({"GET", x.route_label, "101"}).inc();
    ctx.durations.with({x.route_label}).observe(secs);
    spdlog::info("{} GET {} route={} 101 upgrade", remote,
                 escape_for_log(x.req.path, LogField::kBare), x.route_label);
    state->upgraded = true;
    state->idle = false;
    co_await run_ws_session(std::move(io), parser.release(), std::move(x.req), *ctx.live_stream,
                            remote);
    co_return Next::kUpgraded;  // the WebSocket session owned the connection and closed it
  }
  // A refusal the route decides from the head alone (a full disk refuses writes): before
  // the body is reserved or read, and before 100 Continue invites it.
  if (route->admit)
    if (auto refused = route->admit(x.req)) {
      refuse(std::move(*refused));
      co_return Next::kAnswer;
    }
  if (auto refused = reserve_body(parser, x.body_bytes, ctx)) {
    refuse(std::move(*refused));
    co_return Next::kAnswer;
  }
  // Any other Expect was refused with the head (417); HTTP/1.0 clients get no 1xx.
  if (h.version() >= 11 && h.count(http::field::expect) > 0) {
    http::response<http::empty_body> cont{http::status::continue_, h.version()};
    tcp.expires_after(std::chrono::milliseconds(s.http_body_timeout_ms));
    auto [ec, n] = co_await http::async_write(io, cont, kTuple);
    if (ec) co_return Next::kClose;
  }
  tcp.expires_after(std::chrono::milliseconds(s.http_body_timeout_ms));
  beast::error_code ec;
  while (!parser.is_done()) {
    if (parser.chunked() &&
        !grow_chunked_body(parser, buffer, x.body_bytes, s.http_max_body_bytes)) {
      refuse(over_body_budget(ctx));
      co_return Next::kAnswer;
    }
    auto [rec, n] = co_await http::async_read_some(io, buffer, parser, kTuple);
    if (rec) {
      ec = rec;
      break;
    }
  }
  if (ec == http::error::body_limit) {
    ctx.read_errors.with({"body_too_large"}).inc();
    x.res = error(413, "request body exceeds http.max_body_bytes (" +
                           std::to_string(s.http_max_body_bytes) + ")");
    x.close_after = true;
  } else if (ec == beast::error::timeout) {
    ctx.read_errors.with({"body_timeout"}).inc();  // socket already closed
    co_return Next::kClose;
  } else if (ec) {
    ctx.read_errors.with({"bad_request"}).inc();
    if (ec == http::error::partial_message || ec == http::error::end_of_stream)
      co_return Next::kClose;
    x.res = error(400, "malformed HTTP request body: " + ec.message());
    x.close_after = true;
  } else {
    auto msg = parser.release();
    x.req.body = std::move(msg.body());
    x.close_after = !msg.keep_alive();
    x.res = co_await call_handler(*route, x.req, ctx);
    // The body's memory and its share of the budget go back now, not after the answer.
    x.req.body = std::string();
    x.body_bytes.reset();
  }
  co_return Next::kAnswer;
}

// Writes the answer (buffered or streamed), counts and logs the exchange, and lingers
// after an unread body. Returns whether the connection may serve another request;
// *cut_short when a streamed body was aborted (no TLS close_notify then).
template <class Io>
asio::awaitable<bool> write_answer(SessionState& state, Io& io, Exchange& x,
                                   const SessionContext& ctx, const std::string& remote,
                                   bool& cut_short) {
  auto& tcp = state.tcp();
  const bool tls = state.tls_context != nullptr;
  bool keep_alive = !x.close_after && !ctx.stopping.load();
  const bool head_only = x.req.method == "HEAD";
  const auto write_timeout = std::chrono::milliseconds(ctx.settings.http_body_timeout_ms);
  size_t bytes = 0;
  int status = x.res.status;
  beast::error_code wec;
  const char* aborted = "";
  if (x.res.producer) {
    // HTTP/1.0 has no chunked coding: the streamed body ends with the connection.
    if (x.version < 11) keep_alive = false;
    auto producer = std::move(x.res.producer);
    auto head = beast_head<http::empty_body>(x.res, x.version, keep_alive, tls);
    auto sent = co_await write_streamed(io, tcp, head, producer, head_only, write_timeout);
    bytes = sent.body_bytes;
    wec = sent.write_error;
    if (sent.producer_error) {
      // The status is sent; all that is left is to cut the transfer short, which the
      // client sees as a body without its terminating chunk.
      ctx.stream_aborted.with({"producer_error"}).inc();
      spdlog::warn("{} {} {} route={}: streamed answer aborted after {}B: {}", remote,
                   escape_for_log(x.req.method, LogField::kBare),
                   escape_for_log(x.req.path, LogField::kBare), x.route_label, bytes,
                   escape_for_log(describe(sent.producer_error)));
      aborted = " (stream aborted)";
      keep_alive = false;
      cut_short = true;
    } else if (wec) {
      ctx.stream_aborted.with({"write_failed"}).inc();
    }
  } else {
    auto out = to_beast(std::move(x.res), x.version, keep_alive, head_only, tls);
    bytes = out.body().size();
    status = out.result_int();
    tcp.expires_after(write_timeout);
    auto [ec, wn] = co_await http::async_write(io, out, kTuple);
    wec = ec;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - x.started).count();
  ctx.requests.with({method_label(x.req.method), x.route_label, std::to_string(status)}).inc();
  ctx.durations.with({x.route_label}).observe(secs);
  // The path, never the query string (it may carry a token); escaped, since it is the
  // client's text: a decoded %0a must not start a line of its own.
  spdlog::info("{} {} {} route={} {} {}B {}us{}{}", remote,
               x.req.method.empty() ? "-" : escape_for_log(x.req.method, LogField::kBare),
               x.req.path.empty() ? "-" : escape_for_log(x.req.path, LogField::kBare),
               x.route_label, status, bytes, static_cast<long long>(secs * 1e6),
               wec ? " (write failed)" : "", aborted);
  if (!wec && x.body_unread) co_await linger(io, tcp, tls);
  co_return !wec && keep_alive;
}

// The request loop over `io` (the TCP stream, or the TLS stream over it): read a head,
// handle the request, write the answer, until the connection closes, upgrades or the
// server stops.
template <class Io>
asio::awaitable<void> serve_requests(std::shared_ptr<SessionState> state, Io& io,
                                     const SessionContext& ctx) {
  auto& tcp = state->tcp();
  beast::flat_buffer buffer;
  // A streamed body was aborted: no TLS close_notify either, so a TLS client sees the
  // truncation whatever its HTTP parser makes of the missing last chunk.
  bool cut_short = false;
  std::string remote;
  {
    beast::error_code ec;
    auto ep = tcp.socket().remote_endpoint(ec);
    if (!ec) remote = ep.address().to_string() + ":" + std::to_string(ep.port());
  }
  for (;;) {
    return_memory_after_spike(ctx);  // the last exchange's body is gone
    if (ctx.stopping.load()) break;
    Parser parser;
    Exchange x;
    Next next = co_await read_request_head(*state, io, buffer, parser, x, ctx);
    if (next == Next::kClose) break;
    if (!x.body_unread) {  // a head was read (not an error answer)
      next = co_await handle_request(state, io, buffer, parser, x, ctx, remote);
      if (next == Next::kUpgraded) co_return;
      if (next == Next::kClose) break;
      ctx.cors.apply(x.req, x.res);
    }
    if (!co_await write_answer(*state, io, x, ctx, remote, cut_short)) break;
    // Between requests a connection keeps no more than a small read buffer (a large head
    // or a burst of pipelined requests can grow it); bodies live in their request only.
    if (buffer.size() == 0 && buffer.capacity() > 2 * kMaxReadBytes) buffer.shrink_to_fit();
  }
  return_memory_after_spike(ctx);
  if constexpr (!std::is_same_v<Io, beast::tcp_stream>) {
    if (!cut_short) {
      tcp.expires_after(1s);  // a TLS close_notify, bounded
      auto [sec] = co_await io.async_shutdown(kTuple);
    }
  }
  beast::error_code ignored;
  tcp.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  tcp.close();
}

}  // namespace

asio::awaitable<void> run_session(std::shared_ptr<SessionState> state, const SessionContext& ctx) {
  if (auto* plain = std::get_if<SessionState::Plain>(&state->stream)) {
    co_await serve_requests(state, *plain, ctx);
    co_return;
  }
  auto& tls = std::get<SessionState::Tls>(state->stream);
  state->tcp().expires_after(std::chrono::milliseconds(ctx.settings.http_header_timeout_ms));
  auto [ec] = co_await tls.async_handshake(ssl::stream_base::server, kTuple);
  if (ec) {
    ctx.read_errors.with({"tls_handshake"}).inc();
    spdlog::debug("TLS handshake failed: {}", ec.message());
    state->tcp().close();
    co_return;
  }
  co_await serve_requests(state, tls, ctx);
}

}  // namespace metricsd::server
