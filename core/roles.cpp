// Role rules; see roles.hpp.
#include "core/roles.hpp"

namespace metricsd {

std::string_view role_name(Role r) {
  switch (r) {
    case Role::kAgent:
      return "agent";
    case Role::kViewer:
      return "viewer";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
  }
  return "?";
}

std::optional<Role> parse_role(std::string_view name) {
  for (Role r : {Role::kAgent, Role::kViewer, Role::kOperator, Role::kAdmin})
    if (role_name(r) == name) return r;
  return std::nullopt;
}

std::string_view access_name(Access a) {
  switch (a) {
    case Access::kPublic:
      return "public";
    case Access::kWrite:
      return "agent";
    case Access::kAgentRead:
      return "agent_or_viewer";
    case Access::kViewer:
      return "viewer";
    case Access::kOperator:
      return "operator";
    case Access::kAdmin:
      return "admin";
  }
  return "?";
}

bool role_allows(Role r, Access a) {
  switch (a) {
    case Access::kPublic:
      return true;
    case Access::kWrite:
      return r != Role::kViewer;
    case Access::kAgentRead:
      return true;
    case Access::kViewer:
      return r != Role::kAgent;
    case Access::kOperator:
      return r == Role::kOperator || r == Role::kAdmin;
    case Access::kAdmin:
      return r == Role::kAdmin;
  }
  return false;
}

}  // namespace metricsd
