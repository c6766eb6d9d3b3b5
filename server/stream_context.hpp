// What the HTTP sessions need to serve /ws/metrics: the hub, the stream's counters and
// the Authorizer (the upgrade is authorized before the handshake, and an open stream
// again every auth.cache_ttl_ms, so a revoked token stops streaming). Owned by the daemon;
// outlives every session. Beast-free, so http_session.hpp can carry a pointer to it.
#pragma once

#include "api/authorizer.hpp"
#include "core/settings.hpp"
#include "server/stream_hub.hpp"
#include "server/stream_metrics.hpp"

namespace metricsd::server {

struct StreamContext {
  const Settings& settings;
  StreamHub& hub;
  StreamMetrics& metrics;
  api::Authorizer* auth = nullptr;  // null: no re-checks
};

}  // namespace metricsd::server
