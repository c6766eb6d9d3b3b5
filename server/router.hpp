// Router: the table of routes (method + path pattern with {param} segments) and the
// matching that yields the handler, 404, or 405 with the allowed methods. HEAD is
// served by GET routes.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/http_types.hpp"
#include "core/roles.hpp"

namespace metricsd::server {

using Handler = std::function<boost::asio::awaitable<api::Response>(api::Request&)>;
// A check of an authorized request before its body is read or reserved: nullopt lets it
// go on, else the answer that refuses it (a full disk refuses writes this way).
using Admission = std::function<std::optional<api::Response>(const api::Request&)>;

struct Route {
  std::string method;
  std::string pattern;                // "/api/v1/nodes/{node_id}"
  std::vector<std::string> segments;  // "api", "v1", "nodes", "{node_id}"
  Access access = Access::kAdmin;     // who may call it; enforced before the body is read
  Handler handler;                    // empty for a WebSocket route
  Admission admit;                    // empty: every authorized request is read
  bool websocket = false;             // a GET that upgrades (the session hands it over)
};

struct RouteMatch {
  enum class Kind { kFound, kNotFound, kMethodNotAllowed };
  Kind kind = Kind::kNotFound;
  const Route* route = nullptr;
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<std::string> allowed;  // for kMethodNotAllowed, sorted
};

class Router {
 public:
  // Throws std::invalid_argument on a malformed pattern or a duplicate route. Every
  // route states its access: there is no default.
  void add(std::string method, std::string pattern, Access access, Handler handler,
           Admission admit = {});
  // A GET route that upgrades to a WebSocket; the HTTP session serves it.
  void add_websocket(std::string pattern, Access access);
  // `segments` are the decoded path segments ("/a/b" -> {"a","b"}).
  RouteMatch match(std::string_view method, std::span<const std::string> segments) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;  // constant once the server runs
};

// "/a/b/" -> {"a","b",""}; "/" -> {}. No decoding.
std::vector<std::string> split_path(std::string_view path);

}  // namespace metricsd::server
