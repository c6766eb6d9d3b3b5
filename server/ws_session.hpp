// The WebSocket session of /ws/metrics: takes over an upgraded HTTP connection, accepts
// the handshake (permessage-deflate when the client offers it), then runs one reader
// coroutine (client requests -> hub commands, pongs, errors) and one writer coroutine
// (the client's bounded queue -> one async_write at a time), both on the connection's
// strand. Includes Beast: only http_session.cpp and ws_session.cpp include it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <string>

#include "api/http_types.hpp"
#include "server/stream_context.hpp"

namespace metricsd::server {

// The caller has reserved a slot (StreamHub::try_reserve) and authorized `authorized`
// (the upgrade request as handlers see it); the session releases the slot and
// re-authorizes that request every auth.cache_ttl_ms (at least 1 s), closing with 1008
// when its token is no longer good (revoked, or its role lowered).
boost::asio::awaitable<void> run_ws_session(
    boost::beast::tcp_stream stream,
    boost::beast::http::request<boost::beast::http::string_body> upgrade, api::Request authorized,
    const StreamContext& ctx, std::string remote);
boost::asio::awaitable<void> run_ws_session(
    boost::beast::ssl_stream<boost::beast::tcp_stream> stream,
    boost::beast::http::request<boost::beast::http::string_body> upgrade, api::Request authorized,
    const StreamContext& ctx, std::string remote);

}  // namespace metricsd::server
