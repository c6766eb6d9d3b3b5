// What the HTTP sessions need to serve /ws/metrics: the hub, the stream's counters and
// the check that runs before an upgrade is accepted. Owned by the daemon; outlives every
// session. Beast-free, so http_session.hpp can carry a pointer to it.
#pragma once

#include <functional>
#include <optional>

#include "api/http_types.hpp"
#include "core/settings.hpp"
#include "server/stream_hub.hpp"
#include "server/stream_metrics.hpp"

namespace metricsd::server {

struct StreamContext {
  const Settings& settings;
  StreamHub& hub;
  StreamMetrics& metrics;
  // Runs on the upgrade request (headers and decoded query, e.g. ?access_token=) before
  // the handshake; a response means "refuse with this" (401, 403, ...). Empty: allow all.
  std::function<std::optional<api::Response>(const api::Request&)> authorize;
};

}  // namespace metricsd::server
