// Preparing InfluxDB line-protocol lines from custom sources (--exec output, the loopback
// port) for POST /api/v1/write: a light grammar check (measurement, tags as key=value,
// at least one field, an integer timestamp if any; escapes and quoted strings honoured) so
// one garbage line does not fail a whole batch at the server; the `node` tag added when the
// line has none; the collection time added (in ns) when the line has no timestamp, so a
// line delivered late after an outage keeps its time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace metricsd::tools {

enum class LpLineKind { kBlank, kComment, kGarbage, kLine };

struct PreparedLine {
  LpLineKind kind = LpLineKind::kBlank;
  std::string line;  // the line to send (kLine only)
  std::string why;   // what is wrong (kGarbage only)
};

// Longest line accepted from a custom source; longer ones are garbage.
inline constexpr size_t kMaxLpLineBytes = 64 * 1024;

PreparedLine prepare_lp_line(std::string_view line, const std::string& node, int64_t now_ns);

}  // namespace metricsd::tools
