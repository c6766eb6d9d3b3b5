// Prometheus remote write 1.0 bodies (a snappy block holding a protobuf WriteRequest,
// api/prom_remote_write.proto) decoded into a SampleBatch. No I/O.
//
// Unlike the other ingest formats a request is not all-or-nothing: Prometheus drops a
// batch answered with a 4xx, so one series metricsd cannot store would lose the whole
// batch, every retry alike. A series that cannot be stored (no node, a name outside the
// rules) is left out with its samples, a sample that cannot (not finite, outside the
// time bounds) likewise, each counted by reason; the rest is stored. Stale markers
// (Prometheus' "series ended" NaN) are skipped. A body that is not snappy or not a
// WriteRequest fails whole.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "api/ingest_decode.hpp"
#include "core/sample_batch.hpp"

namespace metricsd::api {

// Why samples of a WriteRequest were left out.
enum class PromSkip : size_t {
  kStaleMarker,    // the stale-marker NaN: Prometheus' end of a series, not a value
  kNoNode,         // neither the node label nor a default node
  kInvalidNode,    // the node label's value is no valid node id
  kInvalidMetric,  // __name__ missing or outside the metric name rules
  kInvalidLabels,  // a label name outside the rules, a value too long, too many labels
  kNotFinite,      // NaN (other than a stale marker) or ±Inf
  kOutOfBounds,    // older than the raw retention or too far in the future
  kCount
};

// The reason's name in /metrics and in answers (stale_marker, no_node, ...).
std::string_view prom_skip_name(PromSkip reason);

struct PromWriteResult {
  SampleBatch batch;
  std::array<size_t, static_cast<size_t>(PromSkip::kCount)> skipped{};  // samples, by reason
  // The series and samples left out, other than stale markers (the first 100, each naming
  // timeseries[i] and its metric).
  Problems refused;
  size_t series = 0;  // time series in the request
};

// Snappy's block format into `out`. Refuses before allocating when the length the block
// announces exceeds max_bytes (sets *too_large). Returns "" on success, else why not.
std::string snappy_uncompress(std::string_view block, size_t max_bytes, std::string& out,
                              bool* too_large);

struct PromWriteOptions {
  std::string_view node_label;    // the label naming the node (ingest.prometheus_node_label)
  std::string_view default_node;  // for series without it (?node=); may be empty
  TimeBounds bounds;
};

// Decodes a serialized WriteRequest. Returns "" on success, else why the bytes are no
// WriteRequest (nothing decoded then).
std::string decode_prom_write(std::string_view message, const PromWriteOptions& options,
                              PromWriteResult& out, const SeriesResolver* resolver = nullptr);

}  // namespace metricsd::api
