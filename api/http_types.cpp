// Request accessors and the JSON error model; see http_types.hpp.
#include "api/http_types.hpp"

namespace metricsd::api {

std::optional<std::string_view> Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return std::nullopt;
}

std::optional<std::string_view> Request::query_param(std::string_view name) const {
  for (const auto& [k, v] : query)
    if (k == name) return v;
  return std::nullopt;
}

std::string_view Request::path_param(std::string_view name) const {
  for (const auto& [k, v] : path_params)
    if (k == name) return v;
  return {};
}

ApiError::ApiError(int status, std::string code, std::string message, nlohmann::json details)
    : std::runtime_error(std::move(message)),
      status_(status),
      code_(std::move(code)),
      details_(std::move(details)) {}

ApiError ApiError::invalid_argument(std::string message, nlohmann::json details) {
  return ApiError(400, "invalid_argument", std::move(message), std::move(details));
}
ApiError ApiError::not_found(std::string message) {
  return ApiError(404, "not_found", std::move(message));
}
ApiError ApiError::unauthenticated(std::string message) {
  return ApiError(401, "unauthenticated", std::move(message));
}
ApiError ApiError::permission_denied(std::string message) {
  return ApiError(403, "permission_denied", std::move(message));
}
ApiError ApiError::rate_limited(std::string message, int retry_after_s) {
  return ApiError(429, "rate_limited", std::move(message)).with_retry_after(retry_after_s);
}
ApiError ApiError::unavailable(std::string message, int retry_after_s) {
  return ApiError(503, "unavailable", std::move(message)).with_retry_after(retry_after_s);
}
ApiError ApiError::internal(std::string message) {
  return ApiError(500, "internal", std::move(message));
}

std::string_view error_code_for_status(int status) {
  switch (status) {
    case 400:
      return "invalid_argument";
    case 401:
      return "unauthenticated";
    case 403:
      return "permission_denied";
    case 404:
      return "not_found";
    case 405:
      return "method_not_allowed";
    case 408:
      return "request_timeout";
    case 409:
      return "conflict";
    case 413:
      return "payload_too_large";
    case 414:
      return "uri_too_long";
    case 415:
      return "unsupported_media_type";
    case 417:
      return "expectation_failed";
    case 429:
      return "rate_limited";
    case 431:
      return "headers_too_large";
    case 501:
      return "not_implemented";
    case 503:
      return "unavailable";
    case 507:
      return "insufficient_storage";
    default:
      return status >= 500 ? "internal" : "invalid_argument";
  }
}

Response json_response(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response error_response(const ApiError& e) {
  nlohmann::json body = {
      {"error", {{"code", e.code()}, {"message", e.what()}, {"details", e.details()}}}};
  Response r = json_response(e.status(), body);
  if (e.retry_after_s() > 0)
    r.headers.emplace_back("Retry-After", std::to_string(e.retry_after_s()));
  return r;
}

}  // namespace metricsd::api
