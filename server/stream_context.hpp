// What the HTTP sessions need to serve /ws/metrics: the hub and the stream's counters
// (the upgrade is authorized by the session's Authenticator before the handshake). Owned
// by the daemon; outlives every session. Beast-free, so http_session.hpp can carry a
// pointer to it.
#pragma once

#include "core/settings.hpp"
#include "server/stream_hub.hpp"
#include "server/stream_metrics.hpp"

namespace metricsd::server {

struct StreamContext {
  const Settings& settings;
  StreamHub& hub;
  StreamMetrics& metrics;
};

}  // namespace metricsd::server
