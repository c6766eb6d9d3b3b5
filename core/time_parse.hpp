// Times as the API accepts them: RFC 3339 strings, unix seconds (fractional allowed),
// and relative forms ("now", "-15m", "-7d"). Results are unix milliseconds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace metricsd {

// "2026-11-24T10:00:00Z", "2026-11-24T10:00:00.25+02:00". nullopt when malformed.
std::optional<int64_t> parse_rfc3339_ms(std::string_view text);

// RFC 3339, unix seconds ("1795600000.25"), "now", or "-<n><unit>" relative to now_ms.
std::optional<int64_t> parse_time_ms(std::string_view text, int64_t now_ms);

// Unix seconds as a double -> ms, nullopt when not finite or out of range.
std::optional<int64_t> seconds_to_ms(double seconds);

// "2026-11-24T10:00:00.000Z"
std::string format_rfc3339_ms(int64_t ms);

int64_t now_ms();

}  // namespace metricsd
