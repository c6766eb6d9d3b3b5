// The HTTP connection coroutine; see http_session.hpp.
#include "server/http_session.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/url/parse.hpp>
#include <chrono>

#include "server/ws_session.hpp"
#include "storage/storage_pool.hpp"

namespace metricsd::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
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

// Fills path, query and segments from the target; false when it is not a valid origin-form.
bool parse_target(api::Request& req, std::vector<std::string>& segments) {
  auto parsed = boost::urls::parse_origin_form(req.target);
  if (!parsed) return false;
  req.path = parsed->path();
  segments.clear();
  std::string_view encoded = parsed->encoded_path();
  for (const auto& raw : split_path(encoded)) {
    auto seg = boost::urls::make_pct_string_view(raw);
    if (!seg) return false;
    segments.push_back(seg->decode());
  }
  for (auto p : parsed->params())
    req.query.emplace_back(p.key, p.has_value ? p.value : "");
  return true;
}

bool targets_stream(std::string_view target) {
  constexpr std::string_view kPath = "/ws/metrics";
  return target.starts_with(kPath) &&
         (target.size() == kPath.size() || target[kPath.size()] == '?');
}

// Checks an upgrade request to /ws/metrics. nullopt: go ahead (a stream slot is reserved);
// otherwise the answer that refuses it.
std::optional<api::Response> check_upgrade(api::Request& req,
                                           const http::request<http::string_body>& msg,
                                           const beast::flat_buffer& buffer,
                                           const SessionContext& ctx) {
  std::vector<std::string> segments;
  if (!parse_target(req, segments))
    return error(400, "malformed request target", {{{"field", "target"}}});
  if (msg.method() != http::verb::get || !beast::websocket::is_upgrade(msg)) {
    auto r = error(400, "/ws/metrics is a WebSocket endpoint: send GET with Upgrade: websocket");
    r.headers.emplace_back("Upgrade", "websocket");
    return r;
  }
  if (buffer.size() > 0) return error(400, "data sent before the WebSocket handshake was answered");
  const StreamContext& st = *ctx.stream;
  if (st.authorize) {
    if (auto refusal = st.authorize(req)) {
      st.metrics.refused.with({std::string(api::error_code_for_status(refusal->status))}).inc();
      return refusal;
    }
  }
  if (ctx.stopping.load()) {
    st.metrics.refused.with({"shutting_down"}).inc();
    return api::error_response(api::ApiError::unavailable("the server is shutting down", 5));
  }
  if (!st.hub.try_reserve()) {
    st.metrics.refused.with({"max_clients"}).inc();
    spdlog::warn("{} /ws/metrics refused: stream.max_clients ({}) reached", req.remote_addr,
                 st.settings.stream_max_clients);
    return api::error_response(api::ApiError::unavailable(
        "too many stream clients (stream.max_clients = " +
            std::to_string(st.settings.stream_max_clients) + "); retry later",
        5));
  }
  return std::nullopt;
}

// Runs the handler and turns every failure into the JSON error model.
asio::awaitable<api::Response> dispatch(api::Request& req, const SessionContext& ctx,
                                        std::string& route_label) {
  std::vector<std::string> segments;
  if (!parse_target(req, segments)) {
    route_label = "unmatched";
    co_return error(400, "malformed request target", {{{"field", "target"}}});
  }
  RouteMatch m = ctx.router.match(req.method, segments);
  if (m.kind == RouteMatch::Kind::kNotFound) {
    route_label = "unmatched";
    co_return error(404, "no such endpoint: " + req.path);
  }
  if (m.kind == RouteMatch::Kind::kMethodNotAllowed) {
    route_label = "unmatched";
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
  try {
    co_return co_await m.route->handler(req);
  } catch (const api::ApiError& e) {
    if (e.status() >= 500)
      spdlog::warn("{} {}: {} {}", req.method, req.route, e.status(), e.what());
    co_return api::error_response(e);
  } catch (const storage::Unavailable& e) {
    spdlog::warn("{} {}: database unavailable: {}", req.method, req.route, e.what());
    co_return api::error_response(api::ApiError::unavailable(e.what(), 2));
  } catch (const storage::Overloaded& e) {
    spdlog::warn("{} {}: overloaded: {}", req.method, req.route, e.what());
    co_return api::error_response(api::ApiError::unavailable(e.what(), 1));
  } catch (const std::exception& e) {
    ctx.internal_errors.inc();
    spdlog::error("{} {}: internal error: {}", req.method, req.route, e.what());
    co_return error(500, "internal error; the server log has the details");
  }
}

HttpResponse to_beast(api::Response&& r, unsigned version, bool keep_alive, bool head) {
  HttpResponse res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "metricsd");
  if (!r.content_type.empty()) res.set(http::field::content_type, r.content_type);
  for (auto& [k, v] : r.headers)
    res.set(k, v);
  res.keep_alive(keep_alive);
  res.body() = std::move(r.body);
  res.prepare_payload();
  if (head) res.body().clear();  // Content-Length stays that of the GET answer
  return res;
}

}  // namespace

asio::awaitable<void> run_session(std::shared_ptr<SessionState> state, const SessionContext& ctx) {
  auto& stream = state->stream;
  const auto& s = ctx.settings;
  beast::flat_buffer buffer;
  std::string remote;
  {
    beast::error_code ec;
    auto ep = stream.socket().remote_endpoint(ec);
    if (!ec) remote = ep.address().to_string() + ":" + std::to_string(ep.port());
  }
  for (;;) {
    if (ctx.stopping.load()) break;
    state->idle = true;
    if (buffer.size() == 0) {
      // Idle keep-alive wait for the first bytes of the next request.
      stream.expires_after(std::chrono::milliseconds(s.http_idle_timeout_ms));
      auto [ec, n] = co_await stream.async_read_some(buffer.prepare(4096), kTuple);
      if (ec) break;  // closed, idle timeout, or shutdown
      buffer.commit(n);
    }
    state->idle = false;
    auto started = std::chrono::steady_clock::now();
    Parser parser;
    parser.header_limit(static_cast<uint32_t>(s.http_max_header_bytes));
    parser.body_limit(static_cast<uint64_t>(s.http_max_body_bytes));
    stream.expires_after(std::chrono::milliseconds(s.http_header_timeout_ms));
    auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, kTuple);
    api::Response res;
    bool close_after = false;
    api::Request req;
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
    } else {
      auto& h = parser.get();
      version = h.version();
      req.method = std::string(h.method_string());
      req.target = std::string(h.target());
      req.remote_addr = remote;
      {
        if (beast::iequals(h[http::field::expect], "100-continue")) {
          http::response<http::empty_body> cont{http::status::continue_, h.version()};
          stream.expires_after(std::chrono::milliseconds(s.http_body_timeout_ms));
          auto [cec, cn] = co_await http::async_write(stream, cont, kTuple);
          if (cec) break;
        }
        stream.expires_after(std::chrono::milliseconds(s.http_body_timeout_ms));
        auto [bec, bn] = co_await http::async_read(stream, buffer, parser, kTuple);
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
          for (const auto& f : msg) {
            std::string name(f.name_string());
            for (char& c : name)
              c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            req.headers.emplace_back(std::move(name), std::string(f.value()));
          }
          close_after = !msg.keep_alive();
          if (ctx.stream && targets_stream(req.target)) {
            route_label = "/ws/metrics";
            auto refusal = check_upgrade(req, msg, buffer, ctx);
            if (!refusal) {
              double secs =
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
              ctx.requests.with({"GET", route_label, "101"}).inc();
              ctx.durations.with({route_label}).observe(secs);
              spdlog::info("{} GET /ws/metrics route=/ws/metrics 101 upgrade", remote);
              state->upgraded = true;
              state->idle = false;
              co_await run_ws_session(std::move(stream), std::move(msg), *ctx.stream, remote);
              co_return;  // the WebSocket session owned the connection and closed it
            }
            res = std::move(*refusal);
          } else {
            req.body = std::move(msg.body());
            res = co_await dispatch(req, ctx, route_label);
          }
        }
      }
    }
    bool keep_alive = !close_after && !ctx.stopping.load();
    auto out = to_beast(std::move(res), version, keep_alive, req.method == "HEAD");
    size_t bytes = out.body().size();
    int status = out.result_int();
    stream.expires_after(std::chrono::milliseconds(s.http_body_timeout_ms));
    auto [wec, wn] = co_await http::async_write(stream, out, kTuple);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    ctx.requests.with({method_label(req.method), route_label, std::to_string(status)}).inc();
    ctx.durations.with({route_label}).observe(secs);
    // The path, never the query string (it may carry a token).
    spdlog::info("{} {} {} route={} {} {}B {}us{}", remote, req.method.empty() ? "-" : req.method,
                 req.path.empty() ? "-" : req.path, route_label, status, bytes,
                 static_cast<long long>(secs * 1e6), wec ? " (write failed)" : "");
    if (wec || !keep_alive) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  stream.close();
}

}  // namespace metricsd::server
