// The line-protocol grammar (api/line_protocol.hpp) against InfluxDB's reference: escapes,
// value spellings, timestamps, line structure and line numbers, and precision conversion.
// Each test is a table of input -> expected outcome; add a row for every bug found.
#include "api/line_protocol.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace metricsd::api {
namespace {

using Kind = LpField::Kind;

// What the reader made of one point, in a form that compares easily.
struct Read {
  size_t line = 0;
  std::string error;
  std::string measurement;
  std::vector<std::string> tags;    // "key=value"
  std::vector<std::string> fields;  // keys
  std::vector<Kind> kinds;
  std::vector<double> values;
  bool has_timestamp = false;
  int64_t timestamp = 0;
};

std::vector<Read> read_all(std::string_view body) {
  std::vector<Read> out;
  LineProtocolReader reader(body);
  LpPoint pt;
  std::string error;
  while (reader.next(pt, &error)) {
    Read r;
    r.line = reader.line();
    r.error = error;
    if (error.empty()) {
      r.measurement = pt.measurement;
      for (size_t i = 0; i < pt.n_tags; ++i)
        r.tags.push_back(pt.tags[i].key + "=" + pt.tags[i].value);
      for (size_t i = 0; i < pt.n_fields; ++i) {
        r.fields.push_back(pt.fields[i].key);
        r.kinds.push_back(pt.fields[i].kind);
        r.values.push_back(pt.fields[i].value);
      }
      r.has_timestamp = pt.has_timestamp;
      r.timestamp = pt.timestamp;
    }
    out.push_back(std::move(r));
  }
  return out;
}

// The one point of a one-line body.
Read read_one(std::string_view body) {
  auto all = read_all(body);
  EXPECT_EQ(all.size(), 1u) << body;
  return all.empty() ? Read{} : all.front();
}

TEST(LineProtocol, EscapesInNamesAreUnescaped) {
  struct Case {
    std::string line;
    std::string measurement;
    std::vector<std::string> tags;
    std::vector<std::string> fields;
  };
  const Case cases[] = {
      {"cpu v=1", "cpu", {}, {"v"}},
      {R"(my\,meas v=1)", "my,meas", {}, {"v"}},
      {R"(my\ meas v=1)", "my meas", {}, {"v"}},
      // '=' needs no escape in a measurement; a backslash before it stays.
      {R"(a=b v=1)", "a=b", {}, {"v"}},
      {R"(a\=b v=1)", R"(a\=b)", {}, {"v"}},
      {R"(m,t\,k=v v=1)", "m", {"t,k=v"}, {"v"}},
      {R"(m,t\=k=v v=1)", "m", {"t=k=v"}, {"v"}},
      {R"(m,t\ k=v v=1)", "m", {"t k=v"}, {"v"}},
      {R"(m,t=a\,b v=1)", "m", {"t=a,b"}, {"v"}},
      {R"(m,t=a\=b v=1)", "m", {"t=a=b"}, {"v"}},
      {R"(m,t=a\ b v=1)", "m", {"t=a b"}, {"v"}},
      {R"(m,t=a=b v=1)", "m", {"t=a=b"}, {"v"}},
      {R"(m f\,k=1)", "m", {}, {"f,k"}},
      {R"(m f\=k=1)", "m", {}, {"f=k"}},
      {R"(m f\ k=1)", "m", {}, {"f k"}},
      {R"(m,a=1,b=2 x=1,y=2)", "m", {"a=1", "b=2"}, {"x", "y"}},
      {"m\tv=1", "m", {}, {"v"}},
      {"m,t=x\tv=1", "m", {"t=x"}, {"v"}},
      {"\"quoted\" v=1", "\"quoted\"", {}, {"v"}},
      {"m,t=\"q\" v=1", "m", {"t=\"q\""}, {"v"}},
      {"temp\xC2\xB0,t=\xC3\xA9 v=1", "temp\xC2\xB0", {"t=\xC3\xA9"}, {"v"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    Read r = read_one(c.line);
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.measurement, c.measurement);
    EXPECT_EQ(r.tags, c.tags);
    EXPECT_EQ(r.fields, c.fields);
  }
}

TEST(LineProtocol, BackslashBeforeOtherCharactersIsKeptLiterally) {
  struct Case {
    std::string line;
    std::string measurement;
    std::vector<std::string> tags;
    std::vector<std::string> fields;
  };
  const Case cases[] = {
      {R"(a\b v=1)", R"(a\b)", {}, {"v"}},
      {R"(c:\temp v=1)", R"(c:\temp)", {}, {"v"}},
      {R"(m,k\x=v\y v=1)", "m", {R"(k\x=v\y)"}, {"v"}},
      {R"(m f\n=1)", "m", {}, {R"(f\n)"}},
      // A trailing backslash of a tag value, before the field section's space, escapes
      // that space (it is one of the escapable characters).
      {R"(m,t=a\  v=1)", "m", {"t=a "}, {"v"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    Read r = read_one(c.line);
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.measurement, c.measurement);
    EXPECT_EQ(r.tags, c.tags);
    EXPECT_EQ(r.fields, c.fields);
  }
}

TEST(LineProtocol, QuotedStringFieldsAreReadWhole) {
  struct Case {
    std::string line;
    std::vector<std::string> fields;
    std::vector<Kind> kinds;
  };
  const Case cases[] = {
      {R"(m s="hello")", {"s"}, {Kind::kString}},
      {R"(m s="")", {"s"}, {Kind::kString}},
      {R"(m s="say \"hi\"",v=1)", {"s", "v"}, {Kind::kString, Kind::kFloat}},
      {R"(m s="back\\",v=1)", {"s", "v"}, {Kind::kString, Kind::kFloat}},
      {R"(m s="a,b c=d e",v=1)", {"s", "v"}, {Kind::kString, Kind::kFloat}},
      {"m s=\"line1\nline2\",v=1", {"s", "v"}, {Kind::kString, Kind::kFloat}},
      {"m s=\"a\r\nb\" 5", {"s"}, {Kind::kString}},
      // Regression: a tab before the fields did not open the field section, so a newline
      // in the string ended the line.
      {"m\ts=\"a\nb\",v=1", {"s", "v"}, {Kind::kString, Kind::kFloat}},
      {"m,t=x\ts=\"a\nb\"", {"s"}, {Kind::kString}},
      {R"(m v=1,s="x",w=2i)", {"v", "s", "w"}, {Kind::kFloat, Kind::kString, Kind::kInteger}},
      {R"(m s="#not a comment")", {"s"}, {Kind::kString}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    Read r = read_one(c.line);
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.fields, c.fields);
    EXPECT_EQ(r.kinds, c.kinds);
  }
}

TEST(LineProtocol, FieldValueSpellingsGiveKindAndValue) {
  struct Case {
    std::string value;
    Kind kind;
    double expected;
  };
  const Case cases[] = {
      {"1", Kind::kFloat, 1},
      {"-1.5", Kind::kFloat, -1.5},
      {"1.", Kind::kFloat, 1},
      {".5", Kind::kFloat, 0.5},
      {"-.5", Kind::kFloat, -0.5},
      {"1e5", Kind::kFloat, 1e5},
      {"1E+5", Kind::kFloat, 1e5},
      {"-1.5E-3", Kind::kFloat, -1.5e-3},
      {"+2", Kind::kFloat, 2},
      {"0", Kind::kFloat, 0},
      {"-0", Kind::kFloat, 0},
      {"1.7976931348623157e308", Kind::kFloat, 1.7976931348623157e308},
      {"12i", Kind::kInteger, 12},
      {"-12i", Kind::kInteger, -12},
      {"+12i", Kind::kInteger, 12},
      {"0i", Kind::kInteger, 0},
      {"9223372036854775807i", Kind::kInteger, 9223372036854775807.0},
      {"-9223372036854775808i", Kind::kInteger, -9223372036854775808.0},
      {"12u", Kind::kUnsigned, 12},
      {"0u", Kind::kUnsigned, 0},
      {"18446744073709551615u", Kind::kUnsigned, 18446744073709551615.0},
      {"t", Kind::kBoolean, 1},
      {"T", Kind::kBoolean, 1},
      {"true", Kind::kBoolean, 1},
      {"True", Kind::kBoolean, 1},
      {"TRUE", Kind::kBoolean, 1},
      {"f", Kind::kBoolean, 0},
      {"F", Kind::kBoolean, 0},
      {"false", Kind::kBoolean, 0},
      {"False", Kind::kBoolean, 0},
      {"FALSE", Kind::kBoolean, 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.value);
    Read r = read_one("m v=" + c.value);
    ASSERT_EQ(r.error, "");
    ASSERT_EQ(r.kinds.size(), 1u);
    EXPECT_EQ(r.kinds[0], c.kind);
    EXPECT_DOUBLE_EQ(r.values[0], c.expected);
  }
}

TEST(LineProtocol, InvalidFieldValuesAreErrorsNamingTheField) {
  struct Case {
    std::string value;
    std::string error_part;
  };
  const Case cases[] = {
      {"1.2.3", "invalid field value"},
      {"abc", "invalid field value"},
      {"1i2", "invalid field value"},
      {"nan", "invalid field value"},
      {"NaN", "invalid field value"},
      {"inf", "invalid field value"},
      {"-inf", "invalid field value"},
      {"Infinity", "invalid field value"},
      {"1e400", "invalid field value"},
      {"-", "invalid field value"},
      {".", "invalid field value"},
      {"e5", "invalid field value"},
      {"1e", "invalid field value"},
      {"1e+", "invalid field value"},
      {"0x10", "invalid field value"},
      {"1_000", "invalid field value"},
      {"tru", "invalid unsigned field value"},  // a trailing 'u' reads as unsigned
      {"yes", "invalid field value"},
      {"TRUe", "invalid field value"},
      {"9223372036854775808i", "integer field value out of range"},
      {"-9223372036854775809i", "integer field value out of range"},
      {"i", "invalid field value"},
      {"-i", "invalid integer field value"},
      {"+i", "invalid integer field value"},
      {"1.5i", "invalid integer field value"},
      {"--1i", "invalid integer field value"},
      {"+-1i", "invalid integer field value"},  // regression: was read as -1
      {"u", "invalid field value"},
      {"-u", "invalid unsigned field value"},
      {"-1u", "invalid unsigned field value"},
      {"+1u", "invalid unsigned field value"},
      {"1.5u", "invalid unsigned field value"},
      {"18446744073709551616u", "unsigned field value out of range"},
      {"", "missing field value"},
      {"\"unterminated", "unterminated string value"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.value);
    Read r = read_one("m fld=" + c.value);
    EXPECT_NE(r.error.find(c.error_part), std::string::npos) << r.error;
    EXPECT_NE(r.error.find("\"fld\""), std::string::npos) << r.error;
  }
}

TEST(LineProtocol, TimestampIsOptionalSignedAndBounded) {
  struct Case {
    std::string line;
    std::string error_part;  // "" when valid
    bool has_timestamp;
    int64_t timestamp;
  };
  const Case cases[] = {
      {"m v=1", "", false, 0},
      {"m v=1 ", "", false, 0},
      {"m v=1   ", "", false, 0},
      {"m v=1 1795600000000000000", "", true, 1795600000000000000},
      {"m v=1 0", "", true, 0},
      {"m v=1 -1", "", true, -1},
      {"m v=1 -1795600000000000000", "", true, -1795600000000000000},
      {"m v=1 9223372036854775807", "", true, std::numeric_limits<int64_t>::max()},
      {"m v=1 -9223372036854775808", "", true, std::numeric_limits<int64_t>::min()},
      {"m v=1 123 ", "", true, 123},
      {"m v=1\t123", "", true, 123},
      {"m v=1 9223372036854775808", "timestamp out of range", false, 0},
      {"m v=1 -9223372036854775809", "timestamp out of range", false, 0},
      {"m v=1 99999999999999999999999", "timestamp out of range", false, 0},
      {"m v=1 12a", "invalid timestamp", false, 0},
      {"m v=1 1.5", "invalid timestamp", false, 0},
      {"m v=1 +5", "invalid timestamp", false, 0},
      {"m v=1 -", "invalid timestamp", false, 0},
      {"m v=1 1 2", "unexpected text after the timestamp", false, 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    Read r = read_one(c.line);
    if (c.error_part.empty()) {
      EXPECT_EQ(r.error, "");
      EXPECT_EQ(r.has_timestamp, c.has_timestamp);
      if (c.has_timestamp) {
        EXPECT_EQ(r.timestamp, c.timestamp);
      }
    } else {
      EXPECT_NE(r.error.find(c.error_part), std::string::npos) << r.error;
    }
  }
}

TEST(LineProtocol, MalformedLinesSayWhatIsMissing) {
  struct Case {
    std::string line;
    std::string error_part;
  };
  const Case cases[] = {
      {"m", "missing fields"},
      {"m,t=1", "missing fields"},
      {"m ", "missing field key"},
      {"m,t=1 ", "missing field key"},
      {"m =1", "missing field key"},
      {"m v=1,", "missing field key"},
      {"m v=1,,w=2", "missing field key"},
      {"m v", "missing '=' after field key \"v\""},
      {"m v 1", "missing '=' after field key \"v\""},
      {"m,t= v=1", "missing tag value for tag \"t\""},
      {"m,t=,u=1 v=1", "missing tag value for tag \"t\""},
      {"m,t v=1", "missing '=' after tag key \"t\""},
      {"m,=x v=1", "missing tag key"},
      {"m, v=1", "missing tag key"},
      {"m,,t=1 v=1", "missing tag key"},
      {",t=1 v=1", "missing measurement"},
      {",v=1", "missing measurement"},
      {"m v=\"x\"y", "unexpected character after field values"},
      {"m v=\"x\" y", "invalid timestamp"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    Read r = read_one(c.line);
    EXPECT_NE(r.error.find(c.error_part), std::string::npos) << r.error;
  }
}

TEST(LineProtocol, BlankWhitespaceAndCommentLinesAreSkipped) {
  struct Case {
    std::string body;
    std::vector<size_t> point_lines;  // the line of each point read
  };
  const Case cases[] = {
      {"", {}},
      {"\n\n\n", {}},
      {"   \n\t\n \t \r\n", {}},
      {"# just a comment", {}},
      {"a v=1\n\nb v=2\n", {1, 3}},
      {"a v=1\r\nb v=2\r\n", {1, 2}},
      {"a v=1\r\n\r\n  \r\nb v=2", {1, 4}},
      {"# comment\na v=1\n  # indented comment\nb v=2", {2, 4}},
      {"  a v=1\n\tb v=2", {1, 2}},
      {"a v=1 5   \nb v=2", {1, 2}},
      // Regression: a quote in a comment line swallowed the following lines.
      {"# don't \"quote me\na v=1\nb v=2\n", {2, 3}},
      {"# \"\na v=1\n# \"\nb v=2\n", {2, 4}},
      // Regression: with leading whitespace a quote in the measurement opened a string.
      {"  m\"x v=1\nb v=2", {1, 2}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body);
    std::vector<size_t> lines;
    for (const auto& r : read_all(c.body)) {
      EXPECT_EQ(r.error, "");
      lines.push_back(r.line);
    }
    EXPECT_EQ(lines, c.point_lines);
  }
}

TEST(LineProtocol, CrlfIsNotPartOfTheLastToken) {
  Read r = read_one("m,t=x v=1i 42\r\n");
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.tags, std::vector<std::string>{"t=x"});
  EXPECT_EQ(r.timestamp, 42);
  r = read_one("m,t=x v=1.5\r\n");
  EXPECT_EQ(r.error, "");
  EXPECT_DOUBLE_EQ(r.values.at(0), 1.5);
  r = read_one("m,t=x v=t\r");
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.kinds.at(0), Kind::kBoolean);
}

TEST(LineProtocol, EveryErrorNamesItsLine) {
  struct Case {
    std::string body;
    std::vector<size_t> error_lines;
  };
  const Case cases[] = {
      {"ok v=1\nbad\nok v=2\nbad v=\n", {2, 4}},
      {"\n\nbad\n", {3}},
      {"ok v=1\r\nbad\r\n", {2}},
      // Lines after a string field that spans lines keep their numbers.
      {"a s=\"x\ny\nz\",v=1\nbad\n", {4}},
      {"a s=\"x\ny\" 1\nb s=\"p\nq\" 2\nbad\n", {5}},
      // A point spanning lines is named by its first line.
      {"ok v=1\na s=\"x\ny\",v=zz\nbad\n", {2, 4}},
      // An unterminated string runs to the end of the body: one error, at its line.
      {"ok v=1\na s=\"x\nb v=1\nc v=2\n", {2}},
      {"# c \"\nbad\n", {2}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body);
    std::vector<size_t> lines;
    for (const auto& r : read_all(c.body))
      if (!r.error.empty()) lines.push_back(r.line);
    EXPECT_EQ(lines, c.error_lines);
  }
}

TEST(LineProtocol, ScratchPointIsReusedAcrossLines) {
  // A line with fewer tags/fields than the previous one reports only its own.
  auto all = read_all("m,a=1,b=2 x=1,y=2,z=3 7\nn w=4\n");
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1].measurement, "n");
  EXPECT_TRUE(all[1].tags.empty());
  EXPECT_EQ(all[1].fields, std::vector<std::string>{"w"});
  EXPECT_FALSE(all[1].has_timestamp);
}

TEST(LineProtocol, PrecisionNamesAreInfluxDbs) {
  struct Case {
    std::string text;
    bool ok;
    Precision precision;
  };
  const Case cases[] = {
      {"ns", true, Precision::kNanoseconds},
      {"n", true, Precision::kNanoseconds},
      {"us", true, Precision::kMicroseconds},
      {"u", true, Precision::kMicroseconds},
      {"\xC2\xB5s", true, Precision::kMicroseconds},
      {"ms", true, Precision::kMilliseconds},
      {"s", true, Precision::kSeconds},
      {"m", true, Precision::kMinutes},
      {"h", true, Precision::kHours},
      {"", false, {}},
      {"NS", false, {}},
      {"sec", false, {}},
      {"d", false, {}},
      {"ms ", false, {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    Precision p = Precision::kNanoseconds;
    EXPECT_EQ(parse_precision(c.text, p), c.ok);
    if (c.ok) {
      EXPECT_EQ(p, c.precision);
    }
  }
}

TEST(LineProtocol, TimestampToMsFloorsAndRefusesOverflow) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  struct Case {
    int64_t ts;
    Precision precision;
    bool ok;
    int64_t ms;
  };
  const Case cases[] = {
      {1795600000123456789, Precision::kNanoseconds, true, 1795600000123},
      {999999, Precision::kNanoseconds, true, 0},
      {-1, Precision::kNanoseconds, true, -1},
      {-1000000, Precision::kNanoseconds, true, -1},
      {-1000001, Precision::kNanoseconds, true, -2},
      {kMax, Precision::kNanoseconds, true, kMax / 1000000},
      {kMin, Precision::kNanoseconds, true, kMin / 1000000 - 1},
      {1795600000123456, Precision::kMicroseconds, true, 1795600000123},
      {1500, Precision::kMicroseconds, true, 1},
      {-1, Precision::kMicroseconds, true, -1},
      {-1500, Precision::kMicroseconds, true, -2},
      {-2000, Precision::kMicroseconds, true, -2},
      {1795600000123, Precision::kMilliseconds, true, 1795600000123},
      {-5, Precision::kMilliseconds, true, -5},
      {kMin, Precision::kMilliseconds, true, kMin},
      {kMax, Precision::kMilliseconds, true, kMax},
      {1795600000, Precision::kSeconds, true, 1795600000000},
      {-1, Precision::kSeconds, true, -1000},
      {kMax / 1000, Precision::kSeconds, true, kMax / 1000 * 1000},
      {kMax / 1000 + 1, Precision::kSeconds, false, 0},
      {kMin / 1000, Precision::kSeconds, true, kMin / 1000 * 1000},
      {kMin / 1000 - 1, Precision::kSeconds, false, 0},
      {1, Precision::kMinutes, true, 60000},
      {-2, Precision::kMinutes, true, -120000},
      {kMax / 60000 + 1, Precision::kMinutes, false, 0},
      {1, Precision::kHours, true, 3600000},
      {498777, Precision::kHours, true, 1795597200000},
      {kMax / 3600000 + 1, Precision::kHours, false, 0},
      {kMin / 3600000 - 1, Precision::kHours, false, 0},
      {kMax, Precision::kHours, false, 0},
      {kMin, Precision::kHours, false, 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(testing::Message() << c.ts << " precision " << static_cast<int>(c.precision));
    int64_t ms = 0;
    EXPECT_EQ(timestamp_to_ms(c.ts, c.precision, ms), c.ok);
    if (c.ok) {
      EXPECT_EQ(ms, c.ms);
    }
  }
}

}  // namespace
}  // namespace metricsd::api
