// Decoding and validating ingest bodies into a SampleBatch, all-or-nothing: every
// problem is collected (the first 100, each naming its line or field) and the caller
// rejects the whole request if there is any. No I/O.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "api/line_protocol.hpp"
#include "core/sample_batch.hpp"

namespace metricsd::api {

inline constexpr size_t kMaxProblems = 100;

struct Problems {
  nlohmann::json details = nlohmann::json::array();  // {"line"|"field": ..., "message": ...}
  size_t count = 0;
  bool full() const { return count >= kMaxProblems; }
  bool empty() const { return count == 0; }
  void at_line(size_t line, std::string message);
  void at_field(std::string field, std::string message);
};

struct TimeBounds {
  int64_t now_ms = 0;
  int64_t max_future_ms = 0;  // later than now + this: rejected
  int64_t retention_ms = 0;   // earlier than now - this: rejected
  // Empty when fine, else why not.
  std::string check(int64_t ts_ms) const;
};

struct LineProtocolStats {
  size_t string_fields_skipped = 0;
  size_t cached_lines = 0;    // lines whose series the cache knew
  size_t uncached_lines = 0;  // lines resolved the long way while a cache was given
};

// A time in a JSON body: an RFC 3339 string or a number of unix seconds; nullopt when it is
// neither or outside the years 0000 to 9999 (check it against TimeBounds next).
std::optional<int64_t> json_time(const nlohmann::json& v);

class LineSeriesCache;

// POST /api/v1/write. default_node: the `node` query parameter (may be empty). With a
// resolver and a cache, lines seen before are resolved through the cache (which must
// hold only ids of that resolver's generation) and fully resolved new lines are added.
SampleBatch decode_line_protocol(std::string_view body, Precision precision,
                                 std::string_view default_node, const TimeBounds& bounds,
                                 Problems& problems, LineProtocolStats& stats,
                                 const SeriesResolver* resolver = nullptr,
                                 LineSeriesCache* cache = nullptr);

// POST /api/v1/metrics.
SampleBatch decode_metrics_json(std::string_view body, const TimeBounds& bounds, Problems& problems,
                                const SeriesResolver* resolver = nullptr);

// The `metrics` map of a heartbeat: samples of `node` at the heartbeat's time.
void decode_metrics_map(const nlohmann::json& metrics, const std::string& node, int64_t ts_ms,
                        const std::string& field_prefix, SampleBatchBuilder& out,
                        Problems& problems);

}  // namespace metricsd::api
