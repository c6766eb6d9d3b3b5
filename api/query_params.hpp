// Reading and checking query-string parameters of read endpoints; every failure is an
// ApiError 400 whose details name the parameter.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "api/http_types.hpp"

namespace metricsd::api {

// 400 invalid_argument: "<field>: <message>", details [{"field","message"}].
ApiError bad_param(const std::string& field, const std::string& message);

// Refuses parameters the endpoint does not know (a typo must not silently widen a read).
void only_params(const Request& req, std::initializer_list<std::string_view> allowed);

// An integer in [lo, hi]; `fallback` when absent.
int64_t int_param(const Request& req, std::string_view name, int64_t fallback, int64_t lo,
                  int64_t hi);

// A time (RFC 3339, unix seconds, now, -15m); `fallback` text when absent.
int64_t time_param(const Request& req, std::string_view name, std::string_view fallback,
                   int64_t now_ms);

}  // namespace metricsd::api
