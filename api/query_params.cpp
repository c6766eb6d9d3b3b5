// Query-string parameters; see query_params.hpp.
#include "api/query_params.hpp"

#include <fmt/format.h>
#include <charconv>

#include "core/time_parse.hpp"

namespace metricsd::api {

ApiError bad_param(const std::string& field, const std::string& message) {
  return ApiError::invalid_argument(
      field + ": " + message, nlohmann::json::array({{{"field", field}, {"message", message}}}));
}

bool credential_param(std::string_view key) {
  return key == "u" || key == "p";
}

void only_params(const Request& req, std::initializer_list<std::string_view> allowed) {
  for (const auto& [k, v] : req.query) {
    // InfluxDB 1.x's credentials (server/request_target.hpp) may come with any request.
    bool ok = credential_param(k);
    for (auto a : allowed)
      ok = ok || k == a;
    if (ok) continue;
    std::string list;
    for (auto a : allowed)
      list += (list.empty() ? "" : ", ") + std::string(a);
    throw bad_param(k, "unknown parameter (expected " + list + ")");
  }
}

int64_t int_param(const Request& req, std::string_view name, int64_t fallback, int64_t lo,
                  int64_t hi) {
  auto v = req.query_param(name);
  if (!v) return fallback;
  int64_t x = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), x);
  if (ec != std::errc() || p != v->data() + v->size() || x < lo || x > hi)
    throw bad_param(std::string(name), fmt::format("must be an integer from {} to {}", lo, hi));
  return x;
}

int64_t time_param(const Request& req, std::string_view name, std::string_view fallback,
                   int64_t now) {
  auto t = parse_time_ms(req.query_param(name).value_or(fallback), now);
  if (!t)
    throw bad_param(std::string(name),
                    "must be RFC 3339, unix seconds, `now` or relative like -15m");
  return *t;
}

bool page_param(const Request& req, const std::string& key, const std::string& value,
                int64_t now_ms, std::optional<int64_t>& from_ms, std::optional<int64_t>& to_ms,
                int& limit, std::optional<int64_t>& before_id) {
  if (key == "from" || key == "to") {
    auto t = parse_time_ms(value, now_ms);
    if (!t) throw bad_param(key, "must be RFC 3339, unix seconds, or relative like -15m");
    (key == "from" ? from_ms : to_ms) = *t;
  } else if (key == "limit") {
    limit = static_cast<int>(int_param(req, "limit", 100, 1, 1000));
  } else if (key == "cursor") {
    before_id = int_param(req, "cursor", 0, 1, INT64_MAX);
  } else {
    return false;
  }
  return true;
}

void check_page_range(const std::optional<int64_t>& from_ms, const std::optional<int64_t>& to_ms) {
  if (from_ms && to_ms && *from_ms >= *to_ms) throw bad_param("from", "must be before `to`");
}

}  // namespace metricsd::api
