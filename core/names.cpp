// Naming rules; see names.hpp.
#include "core/names.hpp"

namespace metricsd {
namespace {

bool is_alpha(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool metric_char(char c) {
  return is_alpha(c) || is_digit(c) || c == '_' || c == '.' || c == ':' || c == '-';
}
bool label_key_char(char c) {
  return is_alpha(c) || is_digit(c) || c == '_';
}

std::string sanitize(std::string_view s, bool (*ok)(char), size_t max) {
  std::string out;
  out.reserve(s.size() + 1);
  if (s.empty() || is_digit(s.front())) out += '_';
  for (char c : s)
    out += ok(c) ? c : '_';
  if (out.front() != '_' && !is_alpha(out.front())) out.front() = '_';
  if (out.size() > max) out.resize(max);
  return out;
}

}  // namespace

bool valid_metric_name(std::string_view s) {
  if (s.empty() || s.size() > kMaxMetricBytes) return false;
  if (!is_alpha(s[0]) && s[0] != '_') return false;
  for (char c : s)
    if (!metric_char(c)) return false;
  return true;
}

bool valid_label_key(std::string_view s) {
  if (s.empty() || s.size() > kMaxLabelKeyBytes) return false;
  if (!is_alpha(s[0]) && s[0] != '_') return false;
  for (char c : s)
    if (!label_key_char(c)) return false;
  return true;
}

bool valid_label_value(std::string_view s) {
  return s.size() <= kMaxLabelValueBytes && valid_text(s);
}

bool valid_node_id(std::string_view s) {
  if (s.empty() || s.size() > kMaxNodeIdBytes) return false;
  if (!is_alpha(s[0]) && !is_digit(s[0])) return false;
  for (char c : s)
    if (!(is_alpha(c) || is_digit(c) || c == '.' || c == '_' || c == ':' || c == '-')) return false;
  return true;
}

bool valid_event_type(std::string_view s) {
  if (s.empty() || s.size() > kMaxEventTypeBytes) return false;
  if (s[0] < 'a' || s[0] > 'z') return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '.')) return false;
  return true;
}

bool daemon_event_type(std::string_view s) {
  return s == "node_status" || s == "node_registered";
}

bool valid_utf8(std::string_view s) {
  size_t i = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  while (i < s.size()) {
    unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size() || (p[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    // Overlong forms, surrogates, beyond U+10FFFF.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
      return false;
    i += n + 1;
  }
  return true;
}

bool valid_text(std::string_view s) {
  return s.find('\0') == std::string_view::npos && valid_utf8(s);
}

std::string sanitize_metric_name(std::string_view s) {
  if (valid_metric_name(s)) return std::string(s);
  return sanitize(s, metric_char, kMaxMetricBytes);
}

std::string sanitize_label_key(std::string_view s) {
  if (valid_label_key(s)) return std::string(s);
  return sanitize(s, label_key_char, kMaxLabelKeyBytes);
}

std::string_view metric_category(std::string_view metric) {
  return metric.substr(0, metric.find('.'));
}

}  // namespace metricsd
