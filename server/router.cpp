// Route matching; see router.hpp.
#include "server/router.hpp"

#include <algorithm>
#include <stdexcept>

namespace metricsd::server {
namespace {

bool is_param(const std::string& s) {
  return s.size() > 2 && s.front() == '{' && s.back() == '}';
}

// Matches, returning a specificity key: literal segments score higher at each position.
bool matches(const Route& r, std::span<const std::string> segs, std::vector<int>& score) {
  if (r.segments.size() != segs.size()) return false;
  score.clear();
  for (size_t i = 0; i < segs.size(); ++i) {
    if (is_param(r.segments[i])) {
      if (segs[i].empty()) return false;
      score.push_back(0);
    } else {
      if (r.segments[i] != segs[i]) return false;
      score.push_back(1);
    }
  }
  return true;
}

}  // namespace

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  if (path.empty() || path == "/") return out;
  if (path.front() == '/') path.remove_prefix(1);
  size_t start = 0;
  for (;;) {
    size_t slash = path.find('/', start);
    out.emplace_back(
        path.substr(start, slash == std::string_view::npos ? path.npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

void Router::add(std::string method, std::string pattern, Access access, Handler handler,
                 Admission admit) {
  if (pattern.empty() || pattern.front() != '/')
    throw std::invalid_argument("route pattern must start with /: " + pattern);
  auto segments = split_path(pattern);
  for (const auto& r : routes_)
    if (r.method == method && r.segments == segments)
      throw std::invalid_argument("duplicate route " + method + " " + pattern);
  routes_.push_back({std::move(method), std::move(pattern), std::move(segments), access,
                     std::move(handler), std::move(admit)});
}

void Router::add_websocket(std::string pattern, Access access) {
  add("GET", std::move(pattern), access, nullptr);
  routes_.back().websocket = true;
}

RouteMatch Router::match(std::string_view method, std::span<const std::string> segments) const {
  RouteMatch out;
  std::string_view want = method == "HEAD" ? std::string_view("GET") : method;
  std::vector<int> score, best;
  bool any = false;
  // The most specific pattern that matches the path decides; methods are checked on it.
  for (const auto& r : routes_) {
    if (!matches(r, segments, score)) continue;
    if (!any || score > best) best = score;
    any = true;
  }
  if (!any) return out;  // kNotFound
  for (const auto& r : routes_) {
    if (!matches(r, segments, score) || score != best) continue;
    out.allowed.push_back(r.method);
    if (r.method == want) {
      out.kind = RouteMatch::Kind::kFound;
      out.route = &r;
    }
  }
  if (out.allowed.empty()) return out;  // kNotFound
  if (out.kind == RouteMatch::Kind::kFound) {
    for (size_t i = 0; i < segments.size(); ++i)
      if (is_param(out.route->segments[i]))
        out.params.emplace_back(out.route->segments[i].substr(1, out.route->segments[i].size() - 2),
                                segments[i]);
    out.allowed.clear();
    return out;
  }
  if (std::find(out.allowed.begin(), out.allowed.end(), "GET") != out.allowed.end())
    out.allowed.push_back("HEAD");
  std::sort(out.allowed.begin(), out.allowed.end());
  out.allowed.erase(std::unique(out.allowed.begin(), out.allowed.end()), out.allowed.end());
  out.kind = RouteMatch::Kind::kMethodNotAllowed;
  return out;
}

}  // namespace metricsd::server
