// The request and response every handler sees, free of the transport (no Beast here),
// and ApiError, the one way a handler reports a failure. The server turns an ApiError
// into the JSON error model of docs/api.md.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/roles.hpp"

namespace metricsd::api {

// Who makes a request: the token that authenticated it.
struct Principal {
  bool authenticated = false;  // false on public routes and with auth.mode=disabled
  int64_t token_id = 0;
  std::string token_name;
  Role role = Role::kAdmin;
  std::string node_id;  // an agent token bound to one node; empty: any
};

struct Request {
  std::string method;  // "GET"
  std::string target;  // as received, "/api/v1/query?metric=x"
  std::string path;    // decoded path, "/api/v1/query"
  std::string route;   // the matched route pattern, "/api/v1/nodes/{node_id}"
  std::vector<std::pair<std::string, std::string>> query;        // decoded, in order
  std::vector<std::pair<std::string, std::string>> path_params;  // from {name} segments
  std::vector<std::pair<std::string, std::string>> headers;      // names lowercased
  std::string body;
  std::string remote_addr;
  Principal principal;

  // First value, or nullopt.
  std::optional<std::string_view> header(std::string_view lowercase_name) const;
  std::optional<std::string_view> query_param(std::string_view name) const;
  std::string_view path_param(std::string_view name) const;
};

// Produces a streamed body piece by piece: appends the next piece to `out` (aim for about
// kStreamPieceBytes) and returns false once nothing is left. The server sends each piece
// before asking for the next one, so a slow reader slows the producer instead of
// buffering. Everything that can fail with a status must fail before the handler
// returns: once the head is sent, a throw can only truncate the transfer.
using BodyProducer = std::function<boost::asio::awaitable<bool>(std::string& out)>;
inline constexpr size_t kStreamPieceBytes = 64 * 1024;

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;  // unused when `producer` is set
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body is streamed from it (HTTP/1.1: chunked) instead of `body`.
  BodyProducer producer;
};

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string code, std::string message,
           nlohmann::json details = nlohmann::json::array());
  int status() const { return status_; }
  const std::string& code() const { return code_; }
  const nlohmann::json& details() const { return details_; }
  int retry_after_s() const { return retry_after_s_; }
  ApiError& with_retry_after(int seconds) {
    retry_after_s_ = seconds;
    return *this;
  }

  static ApiError invalid_argument(std::string message,
                                   nlohmann::json details = nlohmann::json::array());
  static ApiError not_found(std::string message);
  static ApiError unauthenticated(std::string message);
  static ApiError permission_denied(std::string message);
  static ApiError rate_limited(std::string message, int retry_after_s);
  static ApiError unavailable(std::string message, int retry_after_s = 1);
  static ApiError internal(std::string message);

 private:
  int status_;
  std::string code_;
  nlohmann::json details_;
  int retry_after_s_ = 0;
};

// {"error":{"code","message","details"}} with Retry-After when set.
Response error_response(const ApiError& e);
Response json_response(int status, const nlohmann::json& body);

// The API's error code for an HTTP status ("not_found" for 404, ...).
std::string_view error_code_for_status(int status);

}  // namespace metricsd::api
