// Request target and token; see request_target.hpp.
#include "server/request_target.hpp"

#include <boost/url/parse.hpp>
#include <cctype>
#include <cstdint>
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

std::string_view trim_spaces(std::string_view v) {
  while (!v.empty() && v.front() == ' ')
    v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ')
    v.remove_suffix(1);
  return v;
}

// RFC 4648 base64 (padding optional); false on any other character.
bool decode_base64(std::string_view in, std::string& out) {
  while (!in.empty() && in.back() == '=')
    in.remove_suffix(1);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+')
      v = 62;
    else if (c == '/')
      v = 63;
    else
      return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
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

RequestToken request_token(const api::Request& req, bool allow_query_token) {
  RequestToken out;
  if (auto h = req.header("authorization")) {
    std::string_view v = *h;
    if (iequals_prefix(v, "bearer ")) {
      out.secret = trim_spaces(v.substr(7));
    } else if (iequals_prefix(v, "token ")) {
      out.secret = trim_spaces(v.substr(6));
    } else if (iequals_prefix(v, "basic ")) {
      std::string user_pass;
      auto colon = std::string_view::npos;
      if (decode_base64(trim_spaces(v.substr(6)), user_pass))
        colon = std::string_view(user_pass).find(':');
      if (colon == std::string_view::npos)
        out.bad_scheme = true;
      else
        out.secret = user_pass.substr(colon + 1);
    } else {
      out.bad_scheme = !v.empty();
    }
    return out;
  }
  if (auto p = req.query_param("p"))
    out.secret = *p;
  else if (allow_query_token)
    if (auto q = req.query_param("access_token")) out.secret = *q;
  return out;
}

}  // namespace metricsd::server
