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

#include "server/auth.hpp"
#include "server/cors.hpp"
#include "server/request_target.hpp"
#include "server/streamed_write.hpp"
#include "server/ws_session.hpp"
#include "storage/storage_pool.hpp"

namespace metricsd::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using namespace std::chrono_literals;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

using Parser = http::request_parser<http::string_body>;
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

// Turns a failure into the JSON error model (logging server-side failures once).
api::Response error_from(std::exception_ptr ep, const api::Request& req,
                         const SessionContext& ctx) {
  try {
    std::rethrow_exception(ep);
  } catch (const api::ApiError& e) {
    if (e.status() >= 500)
      spdlog::warn("{} {}: {} {}", req.method, req.route, e.status(), e.what());
    return api::error_response(e);
  } catch (const storage::Unavailable& e) {
    spdlog::warn("{} {}: database unavailable: {}", req.method, req.route, e.what());
    return api::error_response(api::ApiError::unavailable(e.what(), 2));
  } catch (const storage::Overloaded& e) {
    spdlog::warn("{} {}: overloaded: {}", req.method, req.route, e.what());
    return api::error_response(api::ApiError::unavailable(e.what(), 1));
  } catch (const std::exception& e) {
    ctx.internal_errors.inc();
    spdlog::error("{} {}: internal error: {}", req.method, req.route, e.what());
    return error(500, "internal error; the server log has the details");
  }
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

// Everything decided from the request head, before its body is read: the target's
// shape and size, routing, CORS preflight, authentication and authorization. Sets
// *route when the request may go on; otherwise returns the answer.
// The limits on the target's length and the number of header fields.
std::optional<api::Response> check_head(const api::Request& req, const SessionContext& ctx) {
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

asio::awaitable<std::optional<api::Response>> admit(api::Request& req, const SessionContext& ctx,
                                                    const Route*& route, std::string& route_label) {
  if (auto refused = check_head(req, ctx)) co_return refused;
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
  std::exception_ptr failed;
  try {
    co_await ctx.auth.authorize(req, m.route->access, /*allow_query_token=*/false);
  } catch (...) {
    failed = std::current_exception();
  }
  if (failed) {
    auto r = error_from(failed, req, ctx);
    if (r.status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
    co_return r;
  }
  route = m.route;
  co_return std::nullopt;
}

bool targets_stream(std::string_view target) {
  constexpr std::string_view kPath = "/ws/metrics";
  return target.starts_with(kPath) &&
         (target.size() == kPath.size() || target[kPath.size()] == '?');
}

// Everything decided before /ws/metrics is upgraded: the request's shape, authentication
// (role viewer; the token may come as ?access_token=, since browsers cannot set headers),
// shutdown and stream.max_clients. nullopt: go ahead, a stream slot is reserved; otherwise
// the answer that refuses it.
asio::awaitable<std::optional<api::Response>> admit_upgrade(
    api::Request& req, const http::request<http::string_body>& head, const Parser& parser,
    const beast::flat_buffer& buffer, const SessionContext& ctx) {
  if (auto refused = check_head(req, ctx)) co_return refused;
  std::vector<std::string> segments;
  if (!parse_target(req, segments))
    co_return error(400, "malformed request target", {{{"field", "target"}}});
  req.route = "/ws/metrics";
  if (head.method() != http::verb::get || !beast::websocket::is_upgrade(head)) {
    auto r = error(400, "/ws/metrics is a WebSocket endpoint: send GET with Upgrade: websocket");
    r.headers.emplace_back("Upgrade", "websocket");
    co_return r;
  }
  if (!parser.is_done() || buffer.size() > 0)
    co_return error(400, "data sent with or before the WebSocket handshake");
  const StreamContext& st = *ctx.stream;
  std::exception_ptr failed;
  try {
    co_await ctx.auth.authorize(req, Access::kViewer, /*allow_query_token=*/true);
  } catch (...) {
    failed = std::current_exception();
  }
  if (failed) {
    auto r = error_from(failed, req, ctx);
    st.metrics.refused.with({std::string(api::error_code_for_status(r.status))}).inc();
    if (r.status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
    co_return r;
  }
  if (ctx.stopping.load()) {
    st.metrics.refused.with({"shutting_down"}).inc();
    co_return api::error_response(api::ApiError::unavailable("the server is shutting down", 5));
  }
  if (!st.hub.try_reserve()) {
    st.metrics.refused.with({"max_clients"}).inc();
    spdlog::warn("{} /ws/metrics refused: stream.max_clients ({}) reached", req.remote_addr,
                 st.settings.stream_max_clients);
    co_return api::error_response(api::ApiError::unavailable(
        "too many stream clients (stream.max_clients = " +
            std::to_string(st.settings.stream_max_clients) + "); retry later",
        5));
  }
  co_return std::nullopt;
}

// Runs the handler and turns every failure into the JSON error model.
asio::awaitable<api::Response> dispatch(const Route& route, api::Request& req,
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

// The request loop over `io`: the TCP stream, or the TLS stream over it.
template <class Io>
asio::awaitable<void> serve(std::shared_ptr<SessionState> state, Io& io,
                            const SessionContext& ctx) {
  auto& tcp = state->tcp();
  const bool tls = state->tls_context != nullptr;
  const auto& s = ctx.settings;
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
    if (ctx.stopping.load()) break;
    state->idle = true;
    if (buffer.size() == 0) {
      // Idle keep-alive wait for the first bytes of the next request.
      tcp.expires_after(std::chrono::milliseconds(s.http_idle_timeout_ms));
      auto [ec, n] = co_await io.async_read_some(buffer.prepare(4096), kTuple);
      if (ec) break;  // closed, idle timeout, or shutdown
      buffer.commit(n);
    }
    state->idle = false;
    auto started = std::chrono::steady_clock::now();
    Parser parser;
    parser.header_limit(static_cast<uint32_t>(s.http_max_header_bytes));
    parser.body_limit(static_cast<uint64_t>(s.http_max_body_bytes));
    tcp.expires_after(std::chrono::milliseconds(s.http_header_timeout_ms));
    auto [hec, hn] = co_await http::async_read_header(io, buffer, parser, kTuple);
    api::Response res;
    bool close_after = false;
    api::Request req;
    bool body_unread = false;
    std::string route_label = "unmatched";
    unsigned version = 11;
    if (hec) {
      if (hec == http::error::end_of_stream || hec == asio::error::operation_aborted) break;
      if (hec == beast::error::timeout) {
        // The stream closed the socket when the deadline passed: nothing can be answered.
        ctx.read_errors.with({"header_timeout"}).inc();
        break;
      } else if (hec == http::error::body_limit) {  // Content-Length over the limit
        ctx.read_errors.with({"body_too_large"}).inc();
        res = error(413, "request body exceeds http.max_body_bytes (" +
                             std::to_string(s.http_max_body_bytes) + ")");
      } else if (hec == http::error::header_limit) {
        ctx.read_errors.with({"header_too_large"}).inc();
        res = error(431,
                    "request headers exceed " + std::to_string(s.http_max_header_bytes) + " bytes");
      } else {
        ctx.read_errors.with({"bad_request"}).inc();
        res = error(400, "malformed HTTP request: " + hec.message());
      }
      close_after = true;
      body_unread = true;  // the rest of the head and the body are still coming
    } else {
      auto& h = parser.get();
      version = h.version();
      req.method = std::string(h.method_string());
      req.target = std::string(h.target());
      req.remote_addr = remote;
      for (const auto& f : h) {
        std::string name(f.name_string());
        for (char& c : name)
          c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        req.headers.emplace_back(std::move(name), std::string(f.value()));
      }
      if (ctx.stream && targets_stream(req.target)) {
        route_label = "/ws/metrics";
        auto refused = co_await admit_upgrade(req, h, parser, buffer, ctx);
        if (!refused) {
          double secs =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
          ctx.requests.with({"GET", route_label, "101"}).inc();
          ctx.durations.with({route_label}).observe(secs);
          spdlog::info("{} GET /ws/metrics route=/ws/metrics 101 upgrade", remote);
          state->upgraded = true;
          state->idle = false;
          co_await run_ws_session(std::move(io), parser.release(), std::move(req), *ctx.stream,
                                  remote);
          co_return;  // the WebSocket session owned the connection and closed it
        }
        res = std::move(*refused);
        if (!parser.is_done()) {  // a body on an upgrade request stays unread
          close_after = true;
          body_unread = true;
        } else {
          close_after = !h.keep_alive();
        }
      } else {
        const Route* route = nullptr;
        auto refused = co_await admit(req, ctx, route, route_label);
        if (refused) {
          res = std::move(*refused);
          if (!parser.is_done()) {  // the body stays unread: answer, then close
            close_after = true;
            body_unread = true;
          } else {
            close_after = !h.keep_alive();
          }
        } else {
          if (beast::iequals(h[http::field::expect], "100-continue")) {
            http::response<http::empty_body> cont{http::status::continue_, h.version()};
            tcp.expires_after(std::chrono::milliseconds(s.http_body_timeout_ms));
            auto [cec, cn] = co_await http::async_write(io, cont, kTuple);
            if (cec) break;
          }
          tcp.expires_after(std::chrono::milliseconds(s.http_body_timeout_ms));
          auto [bec, bn] = co_await http::async_read(io, buffer, parser, kTuple);
          if (bec == http::error::body_limit) {
            ctx.read_errors.with({"body_too_large"}).inc();
            res = error(413, "request body exceeds http.max_body_bytes (" +
                                 std::to_string(s.http_max_body_bytes) + ")");
            close_after = true;
          } else if (bec == beast::error::timeout) {
            ctx.read_errors.with({"body_timeout"}).inc();  // socket already closed
            break;
          } else if (bec) {
            ctx.read_errors.with({"bad_request"}).inc();
            if (bec == http::error::partial_message || bec == http::error::end_of_stream) break;
            res = error(400, "malformed HTTP request body: " + bec.message());
            close_after = true;
          } else {
            auto msg = parser.release();
            req.body = std::move(msg.body());
            close_after = !msg.keep_alive();
            res = co_await dispatch(*route, req, ctx);
          }
        }
      }
      ctx.cors.apply(req, res);
    }
    bool keep_alive = !close_after && !ctx.stopping.load();
    const bool head_only = req.method == "HEAD";
    const auto write_timeout = std::chrono::milliseconds(s.http_body_timeout_ms);
    size_t bytes = 0;
    int status = res.status;
    beast::error_code wec;
    const char* aborted = "";
    if (res.producer) {
      // HTTP/1.0 has no chunked coding: the streamed body ends with the connection.
      if (version < 11) keep_alive = false;
      auto producer = std::move(res.producer);
      auto head = beast_head<http::empty_body>(res, version, keep_alive, tls);
      auto sent = co_await write_streamed(io, tcp, head, producer, head_only, write_timeout);
      bytes = sent.body_bytes;
      wec = sent.write_error;
      if (sent.producer_error) {
        // The status is sent; all that is left is to cut the transfer short, which the
        // client sees as a body without its terminating chunk.
        ctx.stream_aborted.with({"producer_error"}).inc();
        spdlog::warn("{} {} {} route={}: streamed answer aborted after {}B: {}", remote, req.method,
                     req.path, route_label, bytes, describe(sent.producer_error));
        aborted = " (stream aborted)";
        keep_alive = false;
        cut_short = true;
      } else if (wec) {
        ctx.stream_aborted.with({"write_failed"}).inc();
      }
    } else {
      auto out = to_beast(std::move(res), version, keep_alive, head_only, tls);
      bytes = out.body().size();
      status = out.result_int();
      tcp.expires_after(write_timeout);
      auto [ec, wn] = co_await http::async_write(io, out, kTuple);
      wec = ec;
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    ctx.requests.with({method_label(req.method), route_label, std::to_string(status)}).inc();
    ctx.durations.with({route_label}).observe(secs);
    // The path, never the query string (it may carry a token).
    spdlog::info("{} {} {} route={} {} {}B {}us{}{}", remote, req.method.empty() ? "-" : req.method,
                 req.path.empty() ? "-" : req.path, route_label, status, bytes,
                 static_cast<long long>(secs * 1e6), wec ? " (write failed)" : "", aborted);
    if (!wec && body_unread) co_await linger(io, tcp, tls);
    if (wec || !keep_alive) break;
  }
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
    co_await serve(state, *plain, ctx);
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
  co_await serve(state, tls, ctx);
}

}  // namespace metricsd::server
