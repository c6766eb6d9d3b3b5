// One HTTP/1.1 connection: reads requests one at a time (so pipelined requests are
// answered in order), with an idle, a header and a body deadline and size limits;
// routes each to its handler and writes the answer; logs and counts every request.
// Includes Beast: only the server's own translation units include this header.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <memory>

#include "core/prom.hpp"
#include "core/settings.hpp"
#include "server/router.hpp"
#include "server/stream_context.hpp"

namespace metricsd::server {

class Authenticator;
class CorsPolicy;

// What every session shares; owned by HttpServer, outlives every session.
struct SessionContext {
  const Settings& settings;
  const Router& router;
  Authenticator& auth;
  const CorsPolicy& cors;
  std::atomic<bool>& stopping;  // set on shutdown: finish the current request, then close
  prom::Family<prom::Counter>& requests;
  prom::Family<prom::Histogram>& durations;
  prom::Family<prom::Counter>& read_errors;
  prom::Counter& internal_errors;
  const StreamContext* stream = nullptr;  // serves /ws/metrics when set
};

// Per-connection state shared with the server's registry (which may close it on shutdown).
// Touched only on the connection's strand.
struct SessionState {
  explicit SessionState(boost::beast::tcp_stream s)
      : stream(std::move(s)), executor(stream.get_executor()) {}
  boost::beast::tcp_stream stream;
  // The connection's strand; kept apart because `stream` is moved out on an upgrade.
  const boost::beast::tcp_stream::executor_type executor;
  bool idle = true;       // waiting for the next request to start
  bool upgraded = false;  // the stream moved to a WebSocket session: leave it alone
};

boost::asio::awaitable<void> run_session(std::shared_ptr<SessionState> state,
                                         const SessionContext& ctx);

}  // namespace metricsd::server
