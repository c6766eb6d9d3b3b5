// The live stream's counters in /metrics, shared by the hub and every WebSocket session.
// Families live in the registry; this only holds references, constant after construction.
#pragma once

#include "core/prom.hpp"

namespace metricsd::server {

struct StreamMetrics {
  explicit StreamMetrics(prom::Registry& m)
      : connections(m.counter("metricsd_stream_connections_total",
                              "WebSocket connections accepted on /ws/metrics")
                        .get()),
        refused(m.counter("metricsd_stream_refused_total",
                          "Upgrades to /ws/metrics refused before the handshake, by reason",
                          {"reason"})),
        closes(m.counter("metricsd_stream_closes_total",
                         "Stream connections ended, by reason (client, disconnect, timeout, "
                         "too_slow, policy, unauthorized, shutdown, message_too_big, error)",
                         {"reason"})),
        messages_sent(
            m.counter("metricsd_stream_messages_sent_total", "Messages written to stream clients")
                .get()),
        bytes_sent(m.counter("metricsd_stream_bytes_sent_total",
                             "Payload bytes written to stream clients (before compression)")
                       .get()),
        samples_delivered(m.counter("metricsd_stream_samples_delivered_total",
                                    "Samples written to stream clients in metrics messages")
                              .get()),
        shed_samples(m.counter("metricsd_stream_dropped_samples_total",
                               "Samples shed for stream clients that read too slowly")
                         .get()),
        shed_messages(m.counter("metricsd_stream_dropped_messages_total",
                                "Metrics messages shed for stream clients that read too slowly")
                          .get()),
        client_errors(m.counter("metricsd_stream_client_errors_total",
                                "Client messages answered with an error, by error code", {"code"})),
        hub_dropped(m.counter("metricsd_stream_hub_dropped_samples_total",
                              "Committed samples not streamed because the hub's queue was full "
                              "(stream.max_pending_samples)")
                        .get()),
        hub_dropped_notices(
            m.counter("metricsd_stream_hub_dropped_notices_total",
                      "Node status changes, node events and alert messages not streamed "
                      "because the hub's notice queue was full")
                .get()),
        flush_seconds(m.histogram("metricsd_stream_flush_duration_seconds",
                                  "Time the hub takes to fan out one flush", {},
                                  prom::latency_bounds_seconds())
                          .get()),
        snapshots(
            m.counter("metricsd_stream_snapshots_total", "Snapshots sent after subscribe").get()) {}

  prom::Counter& connections;
  prom::Family<prom::Counter>& refused;
  prom::Family<prom::Counter>& closes;
  prom::Counter& messages_sent;
  prom::Counter& bytes_sent;
  prom::Counter& samples_delivered;
  prom::Counter& shed_samples;
  prom::Counter& shed_messages;
  prom::Family<prom::Counter>& client_errors;
  prom::Counter& hub_dropped;
  prom::Counter& hub_dropped_notices;
  prom::Histogram& flush_seconds;
  prom::Counter& snapshots;
};

}  // namespace metricsd::server
