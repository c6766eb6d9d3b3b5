// The daemon's route table as (method, pattern) pairs, for the HTTP request fuzz target,
// which cannot link the handlers. The integration suite (hostile_input_test.cpp) checks
// that it equals what the running daemon lists on GET /api/v1/routes.
#pragma once

#include <array>
#include <string_view>
#include <utility>

namespace metricsd::test {

inline constexpr std::array<std::pair<std::string_view, std::string_view>, 28> kRouteTable = {{
    {"GET", "/healthz"},
    {"GET", "/readyz"},
    {"GET", "/metrics"},
    {"GET", "/api/v1/version"},
    {"GET", "/api/v1/routes"},
    {"POST", "/api/v1/metrics"},
    {"POST", "/api/v1/write"},
    {"POST", "/write"},
    {"POST", "/api/v1/nodes/{node_id}/heartbeat"},
    {"GET", "/api/v1/events"},
    {"GET", "/api/v1/query"},
    {"GET", "/api/v1/latest"},
    {"GET", "/api/v1/series"},
    {"GET", "/api/v1/metrics/{category}"},
    {"GET", "/api/v1/metrics/history/{category}/{timeframe}"},
    {"GET", "/api/v1/nodes"},
    {"GET", "/api/v1/nodes/{node_id}"},
    {"GET", "/api/v1/summary"},
    {"POST", "/api/v1/tokens"},
    {"GET", "/api/v1/tokens"},
    {"DELETE", "/api/v1/tokens/{id}"},
    {"GET", "/api/v1/audit"},
    {"GET", "/api/v1/config"},
    {"POST", "/api/v1/config/update"},
    {"POST", "/api/v1/nodes/{node_id}/commands"},
    {"GET", "/api/v1/nodes/{node_id}/commands"},
    {"POST", "/api/v1/nodes/{node_id}/commands/{id}/ack"},
    {"POST", "/api/v1/fleet/commands"},
}};

}  // namespace metricsd::test
