// CORS and security headers; see cors.hpp.
#include "server/cors.hpp"

#include <stdexcept>

namespace metricsd::server {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ')
    s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ')
    s.remove_suffix(1);
  return s;
}

bool has_header(const api::Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        }))
      return true;
  return false;
}

}  // namespace

CorsPolicy::CorsPolicy(std::string_view setting) {
  while (!setting.empty()) {
    auto comma = setting.find(',');
    std::string_view item = trim(setting.substr(0, comma));
    setting = comma == std::string_view::npos ? std::string_view() : setting.substr(comma + 1);
    if (item.empty()) continue;
    if (item == "*") {
      any_ = true;
      continue;
    }
    if (!(item.starts_with("http://") || item.starts_with("https://")) || item.back() == '/')
      throw std::invalid_argument("http.cors_origins: " + std::string(item) +
                                  " is not an origin like https://dash.example.com");
    origins_.emplace_back(item);
  }
}

bool CorsPolicy::allows(std::string_view origin) const {
  if (origin.empty()) return false;
  if (any_) return true;
  for (const auto& o : origins_)
    if (o == origin) return true;
  return false;
}

bool CorsPolicy::is_preflight(const api::Request& req) {
  return req.method == "OPTIONS" && req.header("origin") &&
         req.header("access-control-request-method");
}

api::Response CorsPolicy::preflight(const api::Request& req) const {
  api::Response r;
  r.status = 204;
  r.content_type.clear();
  auto origin = req.header("origin").value_or("");
  if (allows(origin)) {
    r.headers.emplace_back("Access-Control-Allow-Origin", std::string(origin));
    r.headers.emplace_back("Access-Control-Allow-Methods", "GET, HEAD, POST, DELETE, OPTIONS");
    r.headers.emplace_back("Access-Control-Allow-Headers",
                           "Authorization, Content-Type, Content-Encoding, Accept");
    r.headers.emplace_back("Access-Control-Max-Age", "600");
  }
  r.headers.emplace_back("Vary", "Origin");
  return r;
}

void CorsPolicy::apply(const api::Request& req, api::Response& res) const {
  auto origin = req.header("origin");
  if (!origin || !allows(*origin)) return;
  res.headers.emplace_back("Access-Control-Allow-Origin", std::string(*origin));
  res.headers.emplace_back("Access-Control-Expose-Headers", "Retry-After");
  res.headers.emplace_back("Vary", "Origin");
}

bool CorsPolicy::allows_ws_origin(const api::Request& req) const {
  auto origin = req.header("origin");
  if (!origin || (!any_ && origins_.empty()) || allows(*origin)) return true;
  std::string_view rest = *origin;
  if (rest.starts_with("https://"))
    rest.remove_prefix(8);
  else if (rest.starts_with("http://"))
    rest.remove_prefix(7);
  else
    return false;  // "null" (a sandboxed page, a file) or nonsense
  auto host = req.header("host");
  return host && !rest.empty() && rest.size() == host->size() &&
         std::equal(rest.begin(), rest.end(), host->begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) ==
                  std::tolower(static_cast<unsigned char>(b));
         });
}

void add_security_headers(api::Response& res, bool tls) {
  res.headers.emplace_back("X-Content-Type-Options", "nosniff");
  res.headers.emplace_back("X-Frame-Options", "DENY");
  res.headers.emplace_back("Referrer-Policy", "no-referrer");
  res.headers.emplace_back("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
  if (!has_header(res, "Cache-Control")) res.headers.emplace_back("Cache-Control", "no-store");
  if (tls) res.headers.emplace_back("Strict-Transport-Security", "max-age=31536000");
}

}  // namespace metricsd::server
