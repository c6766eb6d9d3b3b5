// The line-protocol grammar; see line_protocol.hpp.
#include "api/line_protocol.hpp"

#include <charconv>
#include <cmath>
#include <limits>

namespace metricsd::api {
namespace {

// Where an identifier ends and which characters its backslash escapes.
enum class Ident { kMeasurement, kTagKey, kTagValue, kFieldKey };

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

bool escapable(Ident kind, char c) {
  if (c == ',' || c == ' ') return true;
  return c == '=' && kind != Ident::kMeasurement;
}

bool ends_ident(Ident kind, char c) {
  switch (kind) {
    case Ident::kMeasurement:
      return c == ',' || c == ' ' || c == '\t';
    case Ident::kTagKey:
      return c == '=' || c == ',' || c == ' ';
    case Ident::kTagValue:
      return c == ',' || c == ' ' || c == '\t';
    case Ident::kFieldKey:
      return c == '=' || c == ',' || c == ' ';
  }
  return true;
}

// Reads an identifier at `pos` (up to the line end `end`) into `out`, unescaping.
void read_ident(std::string_view s, size_t& pos, size_t end, Ident kind, std::string& out) {
  out.clear();
  while (pos < end) {
    char c = s[pos];
    if (c == '\\' && pos + 1 < end && escapable(kind, s[pos + 1])) {
      out += s[pos + 1];
      pos += 2;
      continue;
    }
    if (ends_ident(kind, c)) break;
    out += c;
    ++pos;
  }
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Float grammar: [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?
bool parse_float(std::string_view t, double& out) {
  size_t i = 0;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
  size_t int_start = i;
  while (i < t.size() && is_digit(t[i]))
    ++i;
  bool int_digits = i > int_start;
  bool frac_digits = false;
  if (i < t.size() && t[i] == '.') {
    ++i;
    size_t fs = i;
    while (i < t.size() && is_digit(t[i]))
      ++i;
    frac_digits = i > fs;
  }
  if (!int_digits && !frac_digits) return false;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    size_t es = i;
    while (i < t.size() && is_digit(t[i]))
      ++i;
    if (i == es) return false;
  }
  if (i != t.size()) return false;
  std::string_view num = t[0] == '+' ? t.substr(1) : t;
  auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), out);
  if (ec == std::errc::result_out_of_range) return false;
  return ec == std::errc() && p == num.data() + num.size();
}

bool parse_bool(std::string_view t, double& out) {
  if (t == "t" || t == "T" || t == "true" || t == "True" || t == "TRUE") {
    out = 1;
    return true;
  }
  if (t == "f" || t == "F" || t == "false" || t == "False" || t == "FALSE") {
    out = 0;
    return true;
  }
  return false;
}

// Parses a field value token; sets kind and value. Returns an error text or nullptr.
const char* parse_value(std::string_view t, LpField& f) {
  if (t.empty()) return "missing field value";
  char last = t.back();
  if (last == 'i' && t.size() > 1) {
    int64_t v = 0;
    std::string_view num = t.substr(0, t.size() - 1);
    if (num[0] == '+') {
      num.remove_prefix(1);
      if (!num.empty() && num[0] == '-') return "invalid integer field value";  // "+-1i"
    }
    auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
    if (ec == std::errc::result_out_of_range) return "integer field value out of range";
    if (ec != std::errc() || p != num.data() + num.size() || num.empty())
      return "invalid integer field value";
    f.kind = LpField::Kind::kInteger;
    f.value = static_cast<double>(v);
    return nullptr;
  }
  if (last == 'u' && t.size() > 1) {
    uint64_t v = 0;
    std::string_view num = t.substr(0, t.size() - 1);
    auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
    if (ec == std::errc::result_out_of_range) return "unsigned field value out of range";
    if (ec != std::errc() || p != num.data() + num.size()) return "invalid unsigned field value";
    f.kind = LpField::Kind::kUnsigned;
    f.value = static_cast<double>(v);
    return nullptr;
  }
  if (parse_bool(t, f.value)) {
    f.kind = LpField::Kind::kBoolean;
    return nullptr;
  }
  if (!parse_float(t, f.value))
    return "invalid field value (not a number, integer, unsigned, boolean or string)";
  if (!std::isfinite(f.value)) return "field value out of range";
  f.kind = LpField::Kind::kFloat;
  return nullptr;
}

// Finds the end of the line starting at pos: the first '\n' not inside a quoted string
// field value. Quotes only count in the field section (after the first unescaped space
// or tab that ends measurement and tags, leading whitespace aside); a comment line ends
// at its first '\n' whatever quotes it holds.
size_t line_end(std::string_view s, size_t pos) {
  while (pos < s.size() && is_space(s[pos]))
    ++pos;
  if (pos < s.size() && s[pos] == '#') {
    size_t nl = s.find('\n', pos);
    return nl == std::string_view::npos ? s.size() : nl;
  }
  bool in_fields = false, in_quotes = false;
  for (size_t i = pos; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\\' && i + 1 < s.size() && s[i + 1] != '\n') {
      ++i;
      continue;
    }
    if (in_quotes) {
      if (c == '"') in_quotes = false;
      continue;
    }
    if (c == '\n') return i;
    if (!in_fields) {
      if (is_space(c)) in_fields = true;
    } else if (c == '"') {
      in_quotes = true;
    }
  }
  return s.size();
}

}  // namespace

bool parse_precision(std::string_view t, Precision& out) {
  if (t == "ns" || t == "n")
    out = Precision::kNanoseconds;
  else if (t == "us" || t == "u" || t == "µ" || t == "µs")
    out = Precision::kMicroseconds;
  else if (t == "ms")
    out = Precision::kMilliseconds;
  else if (t == "s")
    out = Precision::kSeconds;
  else if (t == "m")
    out = Precision::kMinutes;
  else if (t == "h")
    out = Precision::kHours;
  else
    return false;
  return true;
}

bool timestamp_to_ms(int64_t ts, Precision p, int64_t& out) {
  auto floor_div = [](int64_t a, int64_t b) {
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
  };
  auto mul = [&](int64_t m) {
    if (ts > std::numeric_limits<int64_t>::max() / m ||
        ts < std::numeric_limits<int64_t>::min() / m)
      return false;
    out = ts * m;
    return true;
  };
  switch (p) {
    case Precision::kNanoseconds:
      out = floor_div(ts, 1'000'000);
      return true;
    case Precision::kMicroseconds:
      out = floor_div(ts, 1'000);
      return true;
    case Precision::kMilliseconds:
      out = ts;
      return true;
    case Precision::kSeconds:
      return mul(1'000);
    case Precision::kMinutes:
      return mul(60'000);
    case Precision::kHours:
      return mul(3'600'000);
  }
  return false;
}

bool LineProtocolReader::next(LpPoint& pt, std::string* error) {
  for (;;) {
    if (pos_ >= body_.size()) return false;
    size_t end = line_end(body_, pos_);
    size_t start = pos_;
    // A point is named by its first line; line_ also counts the newlines it spans
    // (quoted strings may hold some) so the next point's number is right.
    ++line_;
    point_line_ = line_;
    for (size_t i = start; i < end; ++i)
      if (body_[i] == '\n') ++line_;
    pos_ = end + 1;
    size_t e = end;
    if (e > start && body_[e - 1] == '\r') --e;
    size_t p = start;
    while (p < e && is_space(body_[p]))
      ++p;
    if (p == e || body_[p] == '#') continue;  // blank or comment
    std::string_view s = body_;
    auto fail = [&](const std::string& msg) {
      *error = msg;
      return true;
    };
    error->clear();
    pt.n_tags = pt.n_fields = 0;
    pt.has_timestamp = false;
    pt.series_text = {};
    const size_t series_start = p;
    read_ident(s, p, e, Ident::kMeasurement, pt.measurement);
    if (pt.measurement.empty()) return fail("missing measurement");
    while (p < e && s[p] == ',') {
      ++p;
      if (pt.n_tags == pt.tags.size()) pt.tags.emplace_back();
      LpTag& tag = pt.tags[pt.n_tags++];
      read_ident(s, p, e, Ident::kTagKey, tag.key);
      if (tag.key.empty()) return fail("missing tag key");
      if (p >= e || s[p] != '=') return fail("missing '=' after tag key \"" + tag.key + "\"");
      ++p;
      read_ident(s, p, e, Ident::kTagValue, tag.value);
      if (tag.value.empty()) return fail("missing tag value for tag \"" + tag.key + "\"");
    }
    if (p >= e || !is_space(s[p]))
      return fail("missing fields (expected a space after measurement and tags)");
    pt.series_text = s.substr(series_start, p - series_start);
    while (p < e && is_space(s[p]))
      ++p;
    for (;;) {
      if (pt.n_fields == pt.fields.size()) pt.fields.emplace_back();
      LpField& f = pt.fields[pt.n_fields];
      read_ident(s, p, e, Ident::kFieldKey, f.key);
      if (f.key.empty()) return fail("missing field key");
      if (p >= e || s[p] != '=') return fail("missing '=' after field key \"" + f.key + "\"");
      ++p;
      if (p < e && s[p] == '"') {
        ++p;
        bool closed = false;
        while (p < e) {
          if (s[p] == '\\' && p + 1 < e) {
            p += 2;
            continue;
          }
          if (s[p] == '"') {
            closed = true;
            ++p;
            break;
          }
          ++p;
        }
        if (!closed) return fail("unterminated string value of field \"" + f.key + "\"");
        f.kind = LpField::Kind::kString;
      } else {
        size_t vs = p;
        while (p < e && s[p] != ',' && !is_space(s[p]))
          ++p;
        if (const char* err = parse_value(s.substr(vs, p - vs), f))
          return fail(std::string(err) + " for field \"" + f.key + "\"");
      }
      ++pt.n_fields;
      if (p < e && s[p] == ',') {
        ++p;
        continue;
      }
      break;
    }
    if (p < e && !is_space(s[p])) return fail("unexpected character after field values");
    while (p < e && is_space(s[p]))
      ++p;
    if (p < e) {
      size_t ts_start = p;
      while (p < e && !is_space(s[p]))
        ++p;
      std::string_view ts = s.substr(ts_start, p - ts_start);
      auto [q, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), pt.timestamp);
      if (ec == std::errc::result_out_of_range) return fail("timestamp out of range");
      if (ec != std::errc() || q != ts.data() + ts.size())
        return fail("invalid timestamp \"" + std::string(ts) + "\"");
      pt.has_timestamp = true;
      while (p < e && is_space(s[p]))
        ++p;
      if (p < e) return fail("unexpected text after the timestamp");
    }
    return true;
  }
}

}  // namespace metricsd::api
