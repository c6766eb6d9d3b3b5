// Decoding and validating a heartbeat body (POST /api/v1/nodes/{node_id}/heartbeat):
// what it says about its node, the samples of its `metrics` map and the events of its
// `events` array, all-or-nothing like the other ingest decoders (every problem collected,
// each naming its field). No I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/ingest_decode.hpp"
#include "core/committed_batch.hpp"
#include "core/sample_batch.hpp"

namespace metricsd::api {

// The `events` of one heartbeat: at most this many, each `data` at most this long as JSON
// text. A node reports what just happened to it (a GPU XID error), not a log.
inline constexpr size_t kMaxHeartbeatEvents = 100;
inline constexpr size_t kMaxEventDataBytes = 4096;

// The node's fields a heartbeat may set; a field not sent stays as it was. The object
// fields are canonical JSON text (at most 64 KiB each).
struct HeartbeatFields {
  std::optional<std::string> type, hostname;  // at most 256 bytes, no NUL
  std::optional<std::string> labels_json, state_json, info_json;
  std::optional<double> interval_s;  // (0, 86400]
};

struct DecodedHeartbeat {
  HeartbeatFields fields;
  SampleBatch samples;            // of `node`, at the heartbeat's time
  std::vector<NodeEvent> events;  // of `node`, in the body's order
};

// `node` must already be a valid node id; `bounds.now_ms` is the heartbeat's time (that of
// its samples, and of an event without `ts`), and an event's `ts` must pass `bounds` as a
// sample's does. An empty body is an empty object. The result is meaningful only when
// `problems` stays empty.
DecodedHeartbeat decode_heartbeat(std::string_view body, const std::string& node,
                                  const TimeBounds& bounds, Problems& problems);

}  // namespace metricsd::api
