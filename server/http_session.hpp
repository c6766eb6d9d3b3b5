// One HTTP/1.1 connection: reads requests one at a time (so pipelined requests are
// answered in order), with an idle, a header and a body deadline and size limits, a
// budget for the bodies of all connections together (server/request_body), and the
// RFC 9112 framing checks (server/request_framing); routes each to its handler and writes
// the answer; logs (escaped) and counts every request.
// Includes Beast: only the server's own translation units include this header.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <memory>
#include <variant>

#include "api/authorizer.hpp"
#include "core/byte_budget.hpp"
#include "core/prom.hpp"
#include "core/settings.hpp"
#include "server/router.hpp"
#include "server/stream_context.hpp"

namespace metricsd::server {

class AddressFilter;
class CorsPolicy;

// What every session shares; owned by HttpServer, outlives every session.
struct SessionContext {
  const Settings& settings;
  const Router& router;
  api::Authorizer& auth;
  const CorsPolicy& cors;
  std::atomic<bool>& stopping;  // set on shutdown: finish the current request, then close
  prom::Family<prom::Counter>& requests;
  prom::Family<prom::Histogram>& durations;
  prom::Family<prom::Counter>& read_errors;
  prom::Counter& internal_errors;
  // Streamed answers cut short after the head was sent, by reason.
  prom::Family<prom::Counter>& stream_aborted;
  // limits.max_inflight_body_bytes: the request bodies being received, all connections.
  ByteBudget& body_budget;
  // One thread for work that may take milliseconds and must not stall an io thread
  // (giving the memory of a burst of bodies back to the system).
  boost::asio::thread_pool& housekeeping;
  const StreamContext* live_stream = nullptr;  // serves /ws/metrics when set
  // network.allow_write/operator/admin, checked before authorization; null: none.
  AddressFilter* address_filter = nullptr;
};

// Per-connection state shared with the server's registry (which may close it on shutdown).
// Touched only on the connection's strand. Under TLS the TCP stream moves into the TLS
// stream when the session starts; tcp() is the lowest layer either way.
struct SessionState {
  SessionState(boost::beast::tcp_stream s, std::shared_ptr<boost::asio::ssl::context> tls)
      : executor(s.get_executor()), tls_context(std::move(tls)) {
    if (tls_context)
      stream.emplace<Tls>(std::move(s), *tls_context);
    else
      stream.emplace<Plain>(std::move(s));
  }
  using Plain = boost::beast::tcp_stream;
  using Tls = boost::beast::ssl_stream<boost::beast::tcp_stream>;
  boost::beast::tcp_stream& tcp() {
    return std::holds_alternative<Plain>(stream)
               ? std::get<Plain>(stream)
               : boost::beast::get_lowest_layer(std::get<Tls>(stream));
  }
  // The connection's strand; kept apart because the stream is moved out on an upgrade.
  const boost::beast::tcp_stream::executor_type executor;
  std::shared_ptr<boost::asio::ssl::context> tls_context;  // outlives the TLS stream
  std::variant<std::monostate, Plain, Tls> stream;
  bool idle = true;       // waiting for the next request to start
  bool upgraded = false;  // the stream moved to a WebSocket session: leave it alone
};

boost::asio::awaitable<void> run_session(std::shared_ptr<SessionState> state,
                                         const SessionContext& ctx);

}  // namespace metricsd::server
