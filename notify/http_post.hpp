// One HTTP/1.1 POST to an alert webhook over http:// or https://, blocking, with one deadline
// over the whole exchange (resolve, connect, TLS handshake, write, read): a receiver that
// accepts and never answers, or answers a byte at a time, cannot hold the caller past it.
// For the notifier threads only; never call it on an io thread. Each call opens its own
// connection (Connection: close) on a private io_context; nothing is shared between calls,
// so any number of threads may call it at once. Also the checks the API applies to webhook
// URLs and headers before it stores a receiver, and the HMAC used to sign payloads.
// Boost.Beast stays inside http_post.cpp so that including this header is cheap.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace metricsd::notify {

struct PostRequest {
  std::string url;  // http:// or https://, host, optional port, path and query
  // Sent in this order after the defaults; a Content-Type or User-Agent given here replaces
  // the default one. validate_webhook_header refuses the ones the client sets itself.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type = "application/json";
  std::string user_agent = "metricsd";
  std::chrono::milliseconds timeout{5000};  // of the whole exchange, resolve included
  std::string ca_file;                      // https: "" -> the system trust store
  bool verify = true;                       // https: verify the chain and the host name
  size_t max_reply_bytes = 64 * 1024;       // reading stops there; a longer reply is cut, no error
};

struct PostOutcome {
  int status = 0;    // 0: no HTTP answer, see error
  std::string body;  // the start of the reply body, at most 1024 bytes (for the history)
  // One line naming the failed step: "connect 127.0.0.1:9: Connection refused", "read: timed
  // out after 5000 ms", "tls handshake: certificate verify failed: self-signed certificate".
  // "" on a complete answer. With a status it says the reply body broke off ("read body: ...");
  // the receiver did answer, and `body` holds what came of it.
  std::string error;
  std::string retry_after;  // the Retry-After header, if any
  std::chrono::milliseconds elapsed{0};
};

// Never throws for network failures or HTTP statuses (they come back in the outcome); throws
// std::invalid_argument for a URL validate_webhook_url refuses, a header
// validate_webhook_header refuses, or a Content-Type/User-Agent holding CR, LF or NUL.
PostOutcome http_post(const PostRequest& request);

// For receiver validation at the API: an http or https scheme, a host, no user info
// (credentials go in headers), a port 1-65535 when one is given, at most 2048 characters.
// Throws std::invalid_argument with a one-line message; the message never repeats the URL,
// which often carries a secret token.
void validate_webhook_url(const std::string& url);

// The name must be a token (RFC 9110) and the value free of CR, LF and NUL; Host,
// Content-Length, Transfer-Encoding and Connection are refused (the client sets them).
// Throws std::invalid_argument naming the header.
void validate_webhook_header(const std::string& name, const std::string& value);

// HMAC-SHA256 of `message` under `key`, as 64 lowercase hex digits.
std::string hmac_sha256_hex(const std::string& key, const std::string& message);

}  // namespace metricsd::notify
