// Decoding and validating a heartbeat body (POST /api/v1/nodes/{node_id}/heartbeat):
// what it says about its node and the samples of its `metrics` map, all-or-nothing like
// the other ingest decoders (every problem collected, each naming its field). No I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/ingest_decode.hpp"
#include "core/sample_batch.hpp"

namespace metricsd::api {

// The node's fields a heartbeat may set; a field not sent stays as it was. The object
// fields are canonical JSON text (at most 64 KiB each).
struct HeartbeatFields {
  std::optional<std::string> type, hostname;  // at most 256 bytes, no NUL
  std::optional<std::string> labels_json, state_json, info_json;
  std::optional<double> interval_s;  // (0, 86400]
};

struct DecodedHeartbeat {
  HeartbeatFields fields;
  SampleBatch samples;  // of `node`, at the heartbeat's time
};

// `node` must already be a valid node id; `now_ms` is the heartbeat's time. An empty
// body is an empty object. The result is meaningful only when `problems` stays empty.
DecodedHeartbeat decode_heartbeat(std::string_view body, const std::string& node, int64_t now_ms,
                                  Problems& problems);

}  // namespace metricsd::api
