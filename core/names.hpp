// The naming rules of the API (metric, label key, label value, node id, event type) and the
// sanitising the line protocol applies to names that break them.
#pragma once

#include <string>
#include <string_view>

namespace metricsd {

inline constexpr size_t kMaxMetricBytes = 200;
inline constexpr size_t kMaxLabelKeyBytes = 64;
inline constexpr size_t kMaxLabelValueBytes = 1024;
inline constexpr size_t kMaxLabels = 32;
inline constexpr size_t kMaxNodeIdBytes = 128;
inline constexpr size_t kMaxEventTypeBytes = 64;

// [A-Za-z_][A-Za-z0-9_.:-]{0,199}
bool valid_metric_name(std::string_view s);
// [A-Za-z_][A-Za-z0-9_]{0,63}
bool valid_label_key(std::string_view s);
// Text (see valid_text), at most 1024 bytes.
bool valid_label_value(std::string_view s);
// [A-Za-z0-9][A-Za-z0-9._:-]{0,127}
bool valid_node_id(std::string_view s);
// [a-z][a-z0-9_.]{0,63}: the type of an event a node reports (gpu_xid).
bool valid_event_type(std::string_view s);
// The types of the events the daemon records itself (node_status, node_registered); a node
// may not report them.
bool daemon_event_type(std::string_view s);
bool valid_utf8(std::string_view s);
// UTF-8 without NUL: what a PostgreSQL text or jsonb value can hold (a NUL byte would cut a
// text parameter short, and jsonb refuses \u0000).
bool valid_text(std::string_view s);

// Characters outside the metric rules become '_' (and a leading digit gets a '_' prefix).
std::string sanitize_metric_name(std::string_view s);
// Characters outside the label-key rules become '_' (leading digit gets a '_' prefix).
std::string sanitize_label_key(std::string_view s);

// The part of a metric name before its first '.' ("gpu.temp_c" -> "gpu").
std::string_view metric_category(std::string_view metric);

}  // namespace metricsd
