// Writing an answer whose body comes from an api::BodyProducer: the head first, then one
// piece at a time, each write awaited before the next piece is produced (a slow reader
// slows the producer; nothing queues). HTTP/1.1 uses chunked transfer coding; HTTP/1.0
// has none, so there the body ends with the connection. Includes Beast: server only.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <exception>
#include <string>

#include "api/http_types.hpp"

namespace metricsd::server {

struct StreamedWrite {
  size_t body_bytes = 0;                 // body bytes written (without chunk framing)
  bool complete = false;                 // the whole body and its terminator went out
  boost::beast::error_code write_error;  // the client went away, or a write deadline passed
  std::exception_ptr producer_error;     // the producer threw; the transfer is truncated
};

// Writes `head` (its fields already set; Transfer-Encoding is set here) and, unless
// `head_only` (a HEAD request), the produced body. Each write gets `write_timeout` on
// `tcp`, the lowest layer of `io`. On a producer failure the terminating chunk is not
// sent, so the client sees a truncated transfer; the caller must close the connection.
template <class Io>
boost::asio::awaitable<StreamedWrite> write_streamed(
    Io& io, boost::beast::tcp_stream& tcp,
    boost::beast::http::response<boost::beast::http::empty_body>& head,
    const api::BodyProducer& producer, bool head_only, std::chrono::milliseconds write_timeout) {
  namespace asio = boost::asio;
  namespace http = boost::beast::http;
  constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
  StreamedWrite out;
  // HTTP/1.0 has no chunked coding: the body runs to the close (the caller closes).
  const bool chunked = head.version() >= 11;
  head.chunked(chunked);
  http::response_serializer<http::empty_body> sr{head};
  tcp.expires_after(write_timeout);
  auto [hec, hn] = co_await http::async_write_header(io, sr, kTuple);
  if (hec) {
    out.write_error = hec;
    co_return out;
  }
  if (head_only) {
    out.complete = true;
    co_return out;
  }
  std::string piece;  // reused: its capacity stays about one piece
  piece.reserve(api::kStreamPieceBytes + 4096);
  for (bool more = true; more;) {
    piece.clear();
    try {
      more = co_await producer(piece);
    } catch (...) {
      out.producer_error = std::current_exception();
      co_return out;
    }
    if (piece.empty()) continue;
    tcp.expires_after(write_timeout);
    boost::beast::error_code ec;
    if (chunked) {
      auto [wec, wn] =
          co_await asio::async_write(io, http::make_chunk(asio::buffer(piece)), kTuple);
      ec = wec;
    } else {
      auto [wec, wn] = co_await asio::async_write(io, asio::buffer(piece), kTuple);
      ec = wec;
    }
    if (ec) {
      out.write_error = ec;
      co_return out;
    }
    out.body_bytes += piece.size();
  }
  if (chunked) {
    tcp.expires_after(write_timeout);
    auto [lec, ln] = co_await asio::async_write(io, http::make_chunk_last(), kTuple);
    if (lec) {
      out.write_error = lec;
      co_return out;
    }
  }
  out.complete = true;
  co_return out;
}

}  // namespace metricsd::server
