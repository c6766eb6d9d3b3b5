// Reading and checking query-string parameters of read endpoints; every failure is an
// ApiError 400 whose details name the parameter.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "api/http_types.hpp"

namespace metricsd::api {

// 400 invalid_argument: "<field>: <message>", details [{"field","message"}].
ApiError bad_param(const std::string& field, const std::string& message);

// Refuses parameters the endpoint does not know (a typo must not silently widen a read);
// InfluxDB 1.x's credentials u= and p= pass everywhere.
void only_params(const Request& req, std::initializer_list<std::string_view> allowed);
// Whether `key` is one of InfluxDB 1.x's credential parameters (u=, p=), which every
// endpoint accepts and ignores (the token in p= was read before routing).
bool credential_param(std::string_view key);

// An integer in [lo, hi]; `fallback` when absent.
int64_t int_param(const Request& req, std::string_view name, int64_t fallback, int64_t lo,
                  int64_t hi);

// A time (RFC 3339, unix seconds, now, -15m); `fallback` text when absent.
int64_t time_param(const Request& req, std::string_view name, std::string_view fallback,
                   int64_t now_ms);

// The paging parameters of list endpoints (events, audit): from and to (times), limit
// (1 to 1000) and cursor (the id to continue before). Sets the filter's from_ms, to_ms,
// limit or before_id and returns true when `key` is one of them; false otherwise.
bool page_param(const Request& req, const std::string& key, const std::string& value,
                int64_t now_ms, std::optional<int64_t>& from_ms, std::optional<int64_t>& to_ms,
                int& limit, std::optional<int64_t>& before_id);
template <class Filter>
bool page_param(const Request& req, const std::string& key, const std::string& value,
                int64_t now_ms, Filter& f) {
  return page_param(req, key, value, now_ms, f.from_ms, f.to_ms, f.limit, f.before_id);
}
// A 400 when both ends are given and from is not before to.
void check_page_range(const std::optional<int64_t>& from_ms, const std::optional<int64_t>& to_ms);

}  // namespace metricsd::api
