// The JSON error model: every ApiError becomes {"error":{"code","message","details"}} with
// its status, plus Retry-After when the error carries one; and the status -> code table.
#include "api/http_types.hpp"

#include <gtest/gtest.h>

namespace metricsd::api {
namespace {

using nlohmann::json;

std::optional<std::string> header_of(const Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return std::nullopt;
}

TEST(ErrorModel, ResponseCarriesCodeMessageAndDetails) {
  json details = json::array({{{"field", "samples[3].metric"}, {"reason", "empty"}}});
  Response r = error_response(ApiError::invalid_argument("bad sample", details));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(
      json::parse(r.body),
      (json{{"error",
             {{"code", "invalid_argument"}, {"message", "bad sample"}, {"details", details}}}}));
  EXPECT_FALSE(header_of(r, "Retry-After"));
}

TEST(ErrorModel, FactoriesSetStatusCodeAndRetryAfter) {
  struct Case {
    ApiError error;
    int status;
    std::string code;
    std::optional<std::string> retry_after;
  };
  const Case cases[] = {
      {ApiError::invalid_argument("m"), 400, "invalid_argument", std::nullopt},
      {ApiError::not_found("m"), 404, "not_found", std::nullopt},
      {ApiError::unavailable("m"), 503, "unavailable", "1"},
      {ApiError::unavailable("m", 30), 503, "unavailable", "30"},
      {ApiError::internal("m"), 500, "internal", std::nullopt},
      {ApiError(429, "rate_limited", "m").with_retry_after(7), 429, "rate_limited", "7"},
      {ApiError(409, "conflict", "m").with_retry_after(0), 409, "conflict", std::nullopt},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.code);
    Response r = error_response(c.error);
    EXPECT_EQ(r.status, c.status);
    json body = json::parse(r.body);
    EXPECT_EQ(body["error"]["code"], c.code);
    EXPECT_EQ(body["error"]["message"], "m");
    EXPECT_EQ(body["error"]["details"], json::array());
    EXPECT_EQ(header_of(r, "Retry-After"), c.retry_after);
    // A factory's code agrees with the status table.
    EXPECT_EQ(error_code_for_status(c.status), c.code);
  }
}

TEST(ErrorModel, ErrorObjectHasExactlyCodeMessageAndDetails) {
  json body = json::parse(error_response(ApiError::not_found("no such node")).body);
  ASSERT_EQ(body.size(), 1u);
  ASSERT_TRUE(body["error"].is_object());
  EXPECT_EQ(body["error"].size(), 3u);
}

TEST(ErrorModel, MessageIsEscapedAndInvalidUtf8IsReplaced) {
  Response r = error_response(ApiError::invalid_argument("line 2: \"x\"\n\\ bad \xff byte"));
  json body = json::parse(r.body);  // still valid JSON
  EXPECT_EQ(body["error"]["message"], "line 2: \"x\"\n\\ bad \xEF\xBF\xBD byte");
}

TEST(ErrorModel, ErrorCodeForStatus) {
  struct Case {
    int status;
    std::string_view code;
  };
  const Case cases[] = {
      {400, "invalid_argument"}, {401, "unauthenticated"},    {403, "permission_denied"},
      {404, "not_found"},        {405, "method_not_allowed"}, {408, "request_timeout"},
      {409, "conflict"},         {413, "payload_too_large"},  {415, "unsupported_media_type"},
      {429, "rate_limited"},     {431, "headers_too_large"},  {503, "unavailable"},
      {500, "internal"},         {502, "internal"},           {504, "internal"},
      {410, "invalid_argument"},  // other 4xx
      {418, "invalid_argument"},
  };
  for (const auto& c : cases)
    EXPECT_EQ(error_code_for_status(c.status), c.code) << c.status;
}

// The answers to a request head the server cannot take (server/request_framing).
TEST(ErrorModel, ProtocolRefusalsHaveTheirOwnCodes) {
  EXPECT_EQ(error_code_for_status(417), "expectation_failed");
  EXPECT_EQ(error_code_for_status(501), "not_implemented");
}

TEST(ErrorModel, JsonResponseHasStatusAndCompactBody) {
  Response r = json_response(201, json{{"accepted", 3}});
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"accepted":3})");
  EXPECT_TRUE(r.headers.empty());
}

}  // namespace
}  // namespace metricsd::api
