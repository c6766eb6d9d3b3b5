// Escaping client text for the log; see log_escape.hpp.
#include "core/log_escape.hpp"

#include <cstdint>

namespace metricsd {
namespace {

// The length of the valid UTF-8 sequence starting at s[i] (RFC 3629: no overlong forms,
// no surrogates, nothing past U+10FFFF), or 0 when the byte does not start one.
size_t utf8_sequence(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  auto cont = [&](size_t k) { return k < s.size() && (byte(k) & 0xC0) == 0x80; };
  uint8_t b = byte(i);
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (b >= 0xE0 && b <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    uint8_t b1 = byte(i + 1);
    if (b == 0xE0 && b1 < 0xA0) return 0;  // overlong
    if (b == 0xED && b1 > 0x9F) return 0;  // UTF-16 surrogate
    return 3;
  }
  if (b >= 0xF0 && b <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    uint8_t b1 = byte(i + 1);
    if (b == 0xF0 && b1 < 0x90) return 0;  // overlong
    if (b == 0xF4 && b1 > 0x8F) return 0;  // past U+10FFFF
    return 4;
  }
  return 0;  // a continuation byte alone, C0/C1 (overlong), F5..FF
}

void append_hex(std::string& out, uint8_t b) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\x";
  out += kHex[b >> 4];
  out += kHex[b & 0xF];
}

}  // namespace

std::string escape_for_log(std::string_view text, LogField field) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    uint8_t b = static_cast<uint8_t>(text[i]);
    size_t n = utf8_sequence(text, i);
    if (n == 0) {  // not UTF-8: the byte alone
      append_hex(out, b);
      ++i;
    } else if (n == 2 && b == 0xC2 && static_cast<uint8_t>(text[i + 1]) <= 0x9F) {
      append_hex(out, b);  // a C1 control (U+0080..U+009F), e.g. U+009B, a terminal's CSI
      append_hex(out, static_cast<uint8_t>(text[i + 1]));
      i += 2;
    } else if (n > 1) {
      out.append(text.substr(i, n));
      i += n;
    } else if (b < 0x20 || b == 0x7F || (b == ' ' && field == LogField::kBare)) {
      append_hex(out, b);
      ++i;
    } else if (b == '\\' || b == '"') {
      out += '\\';
      out += static_cast<char>(b);
      ++i;
    } else {
      out += static_cast<char>(b);
      ++i;
    }
  }
  return out;
}

}  // namespace metricsd
