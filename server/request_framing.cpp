// Request-head checks beyond Beast's parser; see request_framing.hpp.
#include "server/request_framing.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <vector>

namespace metricsd::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// The transfer codings of every Transfer-Encoding field, in order, without parameters;
// empty list elements are skipped (RFC 9110 §5.6.1).
std::vector<std::string_view> transfer_codings(const http::request_header<>& head) {
  std::vector<std::string_view> out;
  auto [first, last] = head.equal_range(http::field::transfer_encoding);
  for (auto it = first; it != last; ++it) {
    std::string_view v(it->value().data(), it->value().size());
    while (!v.empty()) {
      size_t comma = v.find(',');
      std::string_view element = v.substr(0, comma);
      v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
      element = trim(element.substr(0, element.find(';')));
      if (!element.empty()) out.push_back(element);
    }
  }
  return out;
}

// A client-supplied value in a message, bounded.
std::string quoted(std::string_view v) {
  constexpr size_t kMax = 64;
  return "\"" + std::string(v.substr(0, kMax)) + (v.size() > kMax ? "...\"" : "\"");
}

HeadRefusal framing(std::string message) {
  return {400, "transfer_encoding", std::move(message)};
}

const char* const kChunkedOnce =
    "Transfer-Encoding: chunked must be the final transfer coding and appear once";
const char* const kWithContentLength =
    "Transfer-Encoding and Content-Length together: the body's length is ambiguous; send one";

}  // namespace

std::optional<HeadRefusal> check_request_head(const http::request_header<>& head) {
  if (head.count(http::field::transfer_encoding) > 0) {
    if (head.count(http::field::content_length) > 0) return framing(kWithContentLength);
    if (head.version() < 11)
      return framing("Transfer-Encoding in an HTTP/1.0 request: HTTP/1.0 has no transfer codings");
    auto codings = transfer_codings(head);
    if (codings.empty()) return framing("Transfer-Encoding without a transfer coding");
    size_t chunked = 0;
    for (auto c : codings) {
      if (beast::iequals(c, "chunked")) {
        ++chunked;
      } else {
        return HeadRefusal{501, "transfer_coding",
                           "Transfer-Encoding: only chunked is supported, not " + quoted(c) +
                               " (use Content-Encoding: gzip for a compressed body)"};
      }
    }
    if (chunked != 1 || !beast::iequals(codings.back(), "chunked")) return framing(kChunkedOnce);
  }
  size_t hosts = head.count(http::field::host);
  if (hosts == 0 && head.version() >= 11)
    return HeadRefusal{400, "host", "HTTP/1.1 request without a Host header"};
  if (hosts > 1) return HeadRefusal{400, "host", "more than one Host header"};
  auto [first, last] = head.equal_range(http::field::expect);
  for (auto it = first; it != last; ++it) {
    std::string_view v(it->value().data(), it->value().size());
    if (!beast::iequals(trim(v), "100-continue"))
      return HeadRefusal{417, "expectation",
                         "Expect: only 100-continue is supported, not " + quoted(v)};
  }
  return std::nullopt;
}

std::optional<HeadRefusal> explain_parse_error(const beast::error_code& ec,
                                               const http::request_header<>& partial) {
  bool te = partial.count(http::field::transfer_encoding) > 0;
  bool cl = partial.count(http::field::content_length) > 0;
  if (ec == http::error::bad_transfer_encoding)
    return framing(cl ? kWithContentLength : kChunkedOnce);
  if (ec == http::error::bad_content_length && te) return framing(kWithContentLength);
  return std::nullopt;
}

bool has_obs_fold(std::string_view bytes) {
  for (size_t lf = bytes.find('\n'); lf != std::string_view::npos && lf + 1 < bytes.size();
       lf = bytes.find('\n', lf + 1))
    if (bytes[lf + 1] == ' ' || bytes[lf + 1] == '\t') return true;
  return false;
}

void FoldWatchingBuffer::consume(size_t n) {
  auto d = b_.data();
  size_t k = n < d.size() ? n : d.size();
  if (!folded_ && has_obs_fold(std::string_view(static_cast<const char*>(d.data()), k)))
    folded_ = true;
  b_.consume(n);
}

}  // namespace metricsd::server
