// Times as the API accepts them: RFC 3339 strings, unix seconds (fractional allowed),
// and relative forms ("now", "-15m", "-7d"). Results are unix milliseconds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace metricsd {

// Every time the API accepts lies in the years RFC 3339 can write, 0000-01-01T00:00:00Z to
// 9999-12-31T23:59:59.999Z, so it can be answered as RFC 3339, handed to PostgreSQL's
// to_timestamp, and two of them subtracted without overflow.
inline constexpr int64_t kMinTimeMs = -62'167'219'200'000;
inline constexpr int64_t kMaxTimeMs = 253'402'300'799'999;

// "2026-11-24T10:00:00Z", "2026-11-24T10:00:00.25+02:00". nullopt when malformed or
// outside [kMinTimeMs, kMaxTimeMs] (an offset can push year 0000 or 9999 beyond it).
std::optional<int64_t> parse_rfc3339_ms(std::string_view text);

// RFC 3339, unix seconds ("1795600000.25"), "now", or "-<n><unit>" relative to now_ms;
// nullopt when malformed or outside [kMinTimeMs, kMaxTimeMs].
std::optional<int64_t> parse_time_ms(std::string_view text, int64_t now_ms);

// Unix seconds as a double -> ms, nullopt when not finite or outside [kMinTimeMs, kMaxTimeMs].
std::optional<int64_t> seconds_to_ms(double seconds);

// "2026-11-24T10:00:00.000Z"
std::string format_rfc3339_ms(int64_t ms);

}  // namespace metricsd
