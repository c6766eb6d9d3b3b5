// The network.* address rules in the server; see address_filter.hpp.
#include "server/address_filter.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/clock.hpp"

namespace metricsd::server {
namespace {

constexpr int64_t kLogEveryMs = 10'000;

IpAddress to_ip(const boost::asio::ip::address& a) {
  if (a.is_v4()) return IpAddress::from_v4(a.to_v4().to_bytes());
  return IpAddress::from_v6(a.to_v6().to_bytes());  // an IPv4-mapped one becomes IPv4
}

}  // namespace

AddressFilter::AddressFilter(const LiveSettings& live, prom::Registry& metrics)
    : live_(live),
      refused_(metrics.counter("metricsd_http_refused_by_address_total",
                               "Connections (deny, allow) and requests (allow_write, "
                               "allow_operator, allow_admin) refused for their client address "
                               "by the network.* list named",
                               {"list"})) {}

bool AddressFilter::admit(const boost::asio::ip::address& peer) {
  auto policy = live_.network();
  if (policy->deny.empty() && policy->allow.empty()) return true;
  std::string_view list = policy->refuse_connection(to_ip(peer));
  if (list.empty()) return true;
  refused(list, fmt::format("connection from {} refused by network.{}", peer.to_string(), list));
  return false;
}

std::optional<api::Response> AddressFilter::check_route(const api::Request& req, Access access) {
  auto policy = live_.network();
  const CidrList* guard = policy->route_list(access);
  if (!guard) return std::nullopt;
  // The session's peer as the server wrote it ("10.1.2.3:5000"); one it could not read is
  // in no list.
  auto peer = parse_peer_address(req.remote_addr);
  if (peer && guard->contains(*peer)) return std::nullopt;
  std::string_view list = NetworkPolicy::route_list_name(access);
  refused(list, fmt::format("{} {} from {} refused: not in network.{}", req.method, req.route,
                            req.remote_addr, list));
  return api::error_response(api::ApiError::permission_denied(
      fmt::format("requests from this address are not allowed for {} {}: {} routes answer only "
                  "the addresses in network.{}",
                  req.method, req.route, access_name(access), list)));
}

void AddressFilter::refused(std::string_view list, std::string_view what) {
  refused_.with({std::string(list)}).inc();
  const int64_t now = steady_ms();
  int64_t next = next_log_ms_.load(std::memory_order_relaxed);
  if (now < next || !next_log_ms_.compare_exchange_strong(next, now + kLogEveryMs)) {
    unlogged_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const int64_t others = unlogged_.exchange(0, std::memory_order_relaxed);
  if (others > 0)
    spdlog::warn("{} ({} other refusals by address left out of the log since its last line)", what,
                 others);
  else
    spdlog::warn("{}", what);
}

}  // namespace metricsd::server
