// Request target and bearer token; see request_target.hpp.
#include "server/request_target.hpp"

#include <boost/url/parse.hpp>
#include <cctype>
#include <string_view>

#include "server/router.hpp"

namespace metricsd::server {
namespace {

bool iequals_prefix(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

}  // namespace

bool parse_target(api::Request& req, std::vector<std::string>& segments) {
  auto parsed = boost::urls::parse_origin_form(req.target);
  if (!parsed) return false;
  req.path = parsed->path();
  segments.clear();
  std::string_view encoded = parsed->encoded_path();
  for (const auto& raw : split_path(encoded)) {
    auto seg = boost::urls::make_pct_string_view(raw);
    if (!seg) return false;
    segments.push_back(seg->decode());
  }
  for (auto p : parsed->params())
    req.query.emplace_back(p.key, p.has_value ? p.value : "");
  return true;
}

std::string bearer_token(const api::Request& req, bool allow_query_token) {
  if (auto h = req.header("authorization")) {
    std::string_view v = *h;
    if (iequals_prefix(v, "bearer ")) {
      v.remove_prefix(7);
      while (!v.empty() && v.front() == ' ')
        v.remove_prefix(1);
      while (!v.empty() && v.back() == ' ')
        v.remove_suffix(1);
      return std::string(v);
    }
    return {};
  }
  if (allow_query_token)
    if (auto q = req.query_param("access_token")) return std::string(*q);
  return {};
}

}  // namespace metricsd::server
