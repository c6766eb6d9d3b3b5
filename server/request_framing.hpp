// The checks of a request head that Beast's parser leaves to us (RFC 9112 §6, §3.2, RFC 9110
// §10.1.1): how the body is framed (Transfer-Encoding, and not with Content-Length or in
// HTTP/1.0), Host, obs-fold and Expect. Beast takes `Transfer-Encoding: chunked, chunked` or
// `gzip` as "no body" and the body as the next request, and unfolds obs-fold unseen; a
// proxy in front may frame the same bytes differently, so each of these is refused and the
// connection closed. Includes Beast: only the server's own translation units include this.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace metricsd::server {

// Why a request head is refused: the status, the `kind` it is counted under in
// metricsd_http_read_errors_total, and the message of the error answer.
struct HeadRefusal {
  int status = 400;
  std::string kind;
  std::string message;
};

// The head as parsed, before the body is read: nullopt when it may go on.
//   Transfer-Encoding with Content-Length, or in HTTP/1.0: 400;
//   a transfer coding other than chunked (gzip, deflate, unknown): 501;
//   chunked not exactly once, or not last: 400;
//   HTTP/1.1 without Host, or more than one Host: 400;
//   an Expect other than 100-continue: 417.
std::optional<HeadRefusal> check_request_head(const boost::beast::http::request_header<>& head);

// What Beast's own framing errors mean, given the fields it parsed before the one it
// refused (it stops at a Transfer-Encoding after Content-Length, a Content-Length after
// chunked, a second Transfer-Encoding after chunked); nullopt for any other error.
std::optional<HeadRefusal> explain_parse_error(const boost::beast::error_code& ec,
                                               const boost::beast::http::request_header<>& partial);

// True when a line feed in `bytes` (part of a request head) is followed by SP or HTAB:
// a header line continued on the next (obs-fold).
bool has_obs_fold(std::string_view bytes);

// The connection's buffer as Beast's header reader sees it (a DynamicBuffer), noting an
// obs-fold in the bytes the parser consumes. Beast parses a head one field at a time and
// consumes each field whole, with its folded lines, so a fold never spans two consume()s.
class FoldWatchingBuffer {
 public:
  using const_buffers_type = boost::beast::flat_buffer::const_buffers_type;
  using mutable_buffers_type = boost::beast::flat_buffer::mutable_buffers_type;

  explicit FoldWatchingBuffer(boost::beast::flat_buffer& b) : b_(b) {}
  size_t size() const { return b_.size(); }
  size_t max_size() const { return b_.max_size(); }
  size_t capacity() const { return b_.capacity(); }
  const_buffers_type data() const { return b_.data(); }
  mutable_buffers_type prepare(size_t n) { return b_.prepare(n); }
  void commit(size_t n) { b_.commit(n); }
  void consume(size_t n);
  bool folded() const { return folded_; }

 private:
  boost::beast::flat_buffer& b_;
  bool folded_ = false;
};

}  // namespace metricsd::server
