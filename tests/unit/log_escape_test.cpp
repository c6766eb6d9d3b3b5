// escape_for_log: client text in one log line, unambiguous and without control bytes.
#include "core/log_escape.hpp"

#include <gtest/gtest.h>

#include <string>

namespace metricsd {
namespace {

using namespace std::string_literals;

TEST(LogEscape, TableOfInputs) {
  struct Case {
    std::string in, out;
  };
  const Case cases[] = {
      {"", ""},
      {"/api/v1/nodes/gpu-07", "/api/v1/nodes/gpu-07"},
      {"a b", "a b"},  // spaces stay in text
      {"/x\n2026-01-01T00:00:00Z info forged", "/x\\x0a2026-01-01T00:00:00Z info forged"},
      {"a\r\nb", "a\\x0d\\x0ab"},
      {"nul\0here"s, "nul\\x00here"},
      {"\t\x1b[31mred\x7f", "\\x09\\x1b[31mred\\x7f"},
      {"back\\slash", "back\\\\slash"},
      {"say \"hi\"", "say \\\"hi\\\""},
      {"\\x0a", "\\\\x0a"},  // a literal backslash-x stays apart from an escape
      // Valid UTF-8 is kept: 2, 3 and 4 byte sequences.
      {"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"},
      // C1 controls (U+0085 NEL, U+009B CSI) are control characters too.
      {"a\xC2\x85z\xC2\x9B", "a\\xc2\\x85z\\xc2\\x9b"},
      {"\xC2\xA0", "\xC2\xA0"},  // U+00A0 is not a control
      // Not UTF-8: each offending byte alone.
      {"\xff\xfe", "\\xff\\xfe"},
      {"\x80", "\\x80"},                             // a lone continuation byte
      {"\xC3(", "\\xc3("},                           // cut short
      {"\xC0\xAF", "\\xc0\\xaf"},                    // overlong '/'
      {"\xE0\x80\xAF", "\\xe0\\x80\\xaf"},           // overlong, 3 bytes
      {"\xED\xA0\x80", "\\xed\\xa0\\x80"},           // a UTF-16 surrogate
      {"\xF4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"},  // past U+10FFFF
      {"\xE2\x82", "\\xe2\\x82"},                    // cut short at the end
      {"ok\xE2\x82\xACok\xE2\x82", "ok\xE2\x82\xACok\\xe2\\x82"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    EXPECT_EQ(escape_for_log(c.in), c.out);
  }
}

TEST(LogEscape, BareFieldsEscapeSpacesToo) {
  EXPECT_EQ(escape_for_log("/a b route=/x 200", LogField::kBare), "/a\\x20b\\x20route=/x\\x20200");
  EXPECT_EQ(escape_for_log("/a\nb", LogField::kBare), "/a\\x0ab");
  EXPECT_EQ(escape_for_log("caf\xC3\xA9", LogField::kBare), "caf\xC3\xA9");
}

TEST(LogEscape, OutputIsPrintableAsciiOrValidUtf8WithoutControls) {
  // Every single byte and every pair of bytes: nothing below 0x20, no DEL, no NUL.
  for (int a = 0; a < 256; ++a)
    for (int b = 0; b < 256; ++b) {
      std::string in{static_cast<char>(a), static_cast<char>(b)};
      std::string out = escape_for_log(in);
      for (unsigned char ch : out)
        ASSERT_TRUE(ch >= 0x20 && ch != 0x7F) << a << " " << b;
      ASSERT_EQ(out.find('\n'), std::string::npos);
    }
}

}  // namespace
}  // namespace metricsd
