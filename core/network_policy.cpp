// The network.* address rules; see network_policy.hpp.
#include "core/network_policy.hpp"

#include <fmt/format.h>

namespace metricsd {

NetworkPolicy NetworkPolicy::from(const Settings& s) {
  auto parse = [](std::string_view setting, const std::string& text) {
    try {
      return CidrList::parse(text);
    } catch (const CidrError& e) {
      throw SettingsError(fmt::format("setting {}: {}", setting, e.what()));
    }
  };
  NetworkPolicy p;
  p.deny = parse("network.deny", s.network_deny);
  p.allow = parse("network.allow", s.network_allow);
  p.allow_write = parse("network.allow_write", s.network_allow_write);
  p.allow_operator = parse("network.allow_operator", s.network_allow_operator);
  p.allow_admin = parse("network.allow_admin", s.network_allow_admin);
  return p;
}

std::string_view NetworkPolicy::refuse_connection(const IpAddress& peer) const {
  if (deny.contains(peer)) return "deny";
  if (!allow.empty() && !allow.contains(peer)) return "allow";
  return "";
}

std::string_view NetworkPolicy::route_list_name(Access access) {
  switch (access) {
    case Access::kWrite:
      return "allow_write";
    case Access::kOperator:
      return "allow_operator";
    case Access::kAdmin:
      return "allow_admin";
    case Access::kPublic:
    case Access::kAgentRead:
    case Access::kViewer:
      break;
  }
  return "";
}

const CidrList* NetworkPolicy::route_list(Access access) const {
  const CidrList* list = nullptr;
  switch (access) {
    case Access::kWrite:
      list = &allow_write;
      break;
    case Access::kOperator:
      list = &allow_operator;
      break;
    case Access::kAdmin:
      list = &allow_admin;
      break;
    case Access::kPublic:
    case Access::kAgentRead:
    case Access::kViewer:
      break;
  }
  return list && !list->empty() ? list : nullptr;
}

std::string_view NetworkPolicy::refuse_route(const IpAddress& peer, Access access) const {
  const CidrList* list = route_list(access);
  return !list || list->contains(peer) ? "" : route_list_name(access);
}

}  // namespace metricsd
