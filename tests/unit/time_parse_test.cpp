// Times as the API accepts them (core/time_parse.hpp): RFC 3339 with offsets, fractions
// and calendar validation; unix seconds; "now" and "-15m" relative forms; formatting.
#include "core/time_parse.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>
#include <string>

namespace metricsd {
namespace {

constexpr int64_t k20261124T10 = 1'795'514'400'000;  // 2026-11-24T10:00:00Z

TEST(TimeParse, Rfc3339WithOffsetsAndFractions) {
  struct Case {
    std::string text;
    std::optional<int64_t> ms;
  };
  const Case cases[] = {
      {"1970-01-01T00:00:00Z", 0},
      {"1970-01-01T00:00:01Z", 1000},
      {"1969-12-31T23:59:59Z", -1000},
      {"1969-12-31T23:59:59.5Z", -500},
      {"0001-01-01T00:00:00Z", -62135596800000},
      {"9999-12-31T23:59:59.999Z", 253402300799999},
      {"2026-11-24T10:00:00Z", k20261124T10},
      {"2026-11-24t10:00:00z", k20261124T10},
      {"2026-11-24 10:00:00Z", k20261124T10},
      {"2026-11-24T12:00:00+02:00", k20261124T10},
      {"2026-11-24T05:30:00-04:30", k20261124T10},
      {"2026-11-24T10:00:00+00:00", k20261124T10},
      {"2026-11-24T10:00:00-00:00", k20261124T10},
      {"2026-11-25T09:59:00+23:59", k20261124T10},
      {"2026-11-24T10:00:00.5Z", k20261124T10 + 500},
      {"2026-11-24T10:00:00.25+02:00", k20261124T10 - 7'200'000 + 250},
      {"2026-11-24T10:00:00.123Z", k20261124T10 + 123},
      {"2026-11-24T10:00:00.123456789Z", k20261124T10 + 123},  // truncated to ms
      {"2026-11-24T10:00:00.9999Z", k20261124T10 + 999},
      {"2026-11-24T10:00:00.0Z", k20261124T10},
      // A leap second is read as the last second of its minute.
      {"2016-12-31T23:59:60Z", 1483228799000},
      {"2026-11-24T10:00:00.Z", std::nullopt},
      {"2026-11-24T10:00:00", std::nullopt},
      {"2026-11-24T10:00:00+02", std::nullopt},
      {"2026-11-24T10:00:00+0200", std::nullopt},
      {"2026-11-24T10:00:00+24:00", std::nullopt},
      {"2026-11-24T10:00:00+02:60", std::nullopt},
      {"2026-11-24T10:00:00Zjunk", std::nullopt},
      {"2026-11-24T10:00:00+02:00x", std::nullopt},
      {"2026-11-24T10:00Z", std::nullopt},
      {"2026-11-24", std::nullopt},
      {"2026-11-24X10:00:00Z", std::nullopt},
      {"2026/11/24T10:00:00Z", std::nullopt},
      {"26-11-24T10:00:00Z", std::nullopt},
      {"+2026-11-24T10:00:00Z", std::nullopt},
      {" 2026-11-24T10:00:00Z", std::nullopt},
      {"", std::nullopt},
      {"now", std::nullopt},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(parse_rfc3339_ms(c.text), c.ms);
  }
}

TEST(TimeParse, Rfc3339ChecksTheCalendar) {
  struct Case {
    std::string date;
    bool valid;
  };
  const Case cases[] = {
      {"2024-02-29", true},  {"2000-02-29", true},  {"2023-02-29", false}, {"1900-02-29", false},
      {"2100-02-29", false}, {"2400-02-29", true},  {"2024-02-30", false}, {"2024-01-31", true},
      {"2024-04-30", true},  {"2024-04-31", false}, {"2024-06-31", false}, {"2024-09-31", false},
      {"2024-11-31", false}, {"2024-12-31", true},  {"2024-13-01", false}, {"2024-00-01", false},
      {"2024-01-00", false}, {"2024-01-32", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.date);
    EXPECT_EQ(parse_rfc3339_ms(c.date + "T00:00:00Z").has_value(), c.valid);
  }
  EXPECT_FALSE(parse_rfc3339_ms("2024-01-01T24:00:00Z"));
  EXPECT_FALSE(parse_rfc3339_ms("2024-01-01T00:60:00Z"));
  EXPECT_FALSE(parse_rfc3339_ms("2024-01-01T00:00:61Z"));
  EXPECT_EQ(parse_rfc3339_ms("2024-03-01T00:00:00Z").value() -
                parse_rfc3339_ms("2024-02-28T00:00:00Z").value(),
            2 * 86'400'000);
}

TEST(TimeParse, TimeIsRfc3339UnixSecondsOrRelativeToNow) {
  const int64_t now = k20261124T10;
  struct Case {
    std::string text;
    std::optional<int64_t> ms;
  };
  const Case cases[] = {
      {"now", now},
      {"-15m", now - 900'000},
      {"-500ms", now - 500},
      {"-30s", now - 30'000},
      {"-1h", now - 3'600'000},
      {"-7d", now - 7 * 86'400'000LL},
      {"-2w", now - 14 * 86'400'000LL},
      {"-0s", now},
      {"2026-11-24T10:00:00Z", k20261124T10},
      {"1795514400", k20261124T10},
      {"1795514400.25", k20261124T10 + 250},
      {"0", 0},
      {"-1", -1000},
      {"-12.5", -12'500},
      {"0.001", 1},
      {"-", std::nullopt},
      {"-m", std::nullopt},
      {"-15", -15'000},
      {"-15x", std::nullopt},
      {"-1.5h", std::nullopt},
      {"15m", std::nullopt},
      {"+15m", std::nullopt},
      {"now-1h", std::nullopt},
      {"NOW", std::nullopt},
      {"", std::nullopt},
      {"abc", std::nullopt},
      {"nan", std::nullopt},
      {"inf", std::nullopt},
      {"1e300", std::nullopt},
      {" 1", std::nullopt},
      {"1 ", std::nullopt},
      // Regression (fuzz_http_request): times beyond year 9999 were accepted, answered as
      // RFC 3339 that does not read back, and (from 9.2e15 s) overflowed `to - from`.
      {"579511440020.25", std::nullopt},
      {"9000000000000000", std::nullopt},
      {"-9223372036854775807ms", std::nullopt},
      {"-106751991167d", std::nullopt},
      {"253402300799.999", kMaxTimeMs},
      {"-62167219200", kMinTimeMs},
      {"0000-01-01T00:00:00Z", kMinTimeMs},
      {"0000-01-01T00:00:00+00:01", std::nullopt},
      {"9999-12-31T23:59:59.999Z", kMaxTimeMs},
      {"9999-12-31T23:59:59.999-00:01", std::nullopt},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(parse_time_ms(c.text, now), c.ms);
  }
}

TEST(TimeParse, SecondsToMsRoundsAndRefusesNonFiniteOrHuge) {
  EXPECT_EQ(seconds_to_ms(0), 0);
  EXPECT_EQ(seconds_to_ms(1795514400.25), k20261124T10 + 250);
  EXPECT_EQ(seconds_to_ms(-0.25), -250);
  EXPECT_EQ(seconds_to_ms(1.0004), 1000);
  // The years RFC 3339 can write, 0000 to 9999, and nothing beyond.
  EXPECT_EQ(seconds_to_ms(253402300799.999), kMaxTimeMs);
  EXPECT_EQ(seconds_to_ms(-62167219200), kMinTimeMs);
  EXPECT_FALSE(seconds_to_ms(253402300800));
  EXPECT_FALSE(seconds_to_ms(-62167219200.001));
  EXPECT_FALSE(seconds_to_ms(9.2e15));
  EXPECT_FALSE(seconds_to_ms(-9.2e15));
  EXPECT_FALSE(seconds_to_ms(std::nan("")));
  EXPECT_FALSE(seconds_to_ms(std::numeric_limits<double>::infinity()));
  EXPECT_FALSE(seconds_to_ms(-std::numeric_limits<double>::infinity()));
}

TEST(TimeParse, FormatIsRfc3339WithMillisecondsAndRoundTrips) {
  struct Case {
    int64_t ms;
    std::string text;
  };
  const Case cases[] = {
      {0, "1970-01-01T00:00:00.000Z"},
      {-1, "1969-12-31T23:59:59.999Z"},
      {-1000, "1969-12-31T23:59:59.000Z"},
      {-86'400'001, "1969-12-30T23:59:59.999Z"},
      {951782400000, "2000-02-29T00:00:00.000Z"},
      {k20261124T10 + 250, "2026-11-24T10:00:00.250Z"},
      {253402300799999, "9999-12-31T23:59:59.999Z"},
      {-62135596800000, "0001-01-01T00:00:00.000Z"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.ms);
    EXPECT_EQ(format_rfc3339_ms(c.ms), c.text);
    EXPECT_EQ(parse_rfc3339_ms(c.text), c.ms);
  }
}

TEST(TimeParse, FormatHandlesTheWholeInt64Range) {
  // Regression: the floor division overflowed (UB) for times near INT64_MIN, which a line
  // protocol timestamp with precision=ms reaches when it is reported as too old.
  EXPECT_EQ(format_rfc3339_ms(std::numeric_limits<int64_t>::min()),
            "-292275055-05-16T16:47:04.192Z");
  EXPECT_EQ(format_rfc3339_ms(std::numeric_limits<int64_t>::max()),
            "292278994-08-17T07:12:55.807Z");
}

}  // namespace
}  // namespace metricsd
