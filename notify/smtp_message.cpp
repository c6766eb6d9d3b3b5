// The e-mail text for SMTP; see smtp_message.hpp.
#include "notify/smtp_message.hpp"

#include <fmt/format.h>

#include <array>
#include <ctime>
#include <random>
#include <stdexcept>
#include <vector>

namespace metricsd::notify {
namespace {

// RFC 5321 4.5.3.1.6: a text line is at most 1000 octets with its CRLF.
constexpr size_t kMaxLineOctets = 998;
// Bytes of text per RFC 2047 word: 39 bytes are 52 base64 characters, 64 with
// "=?UTF-8?B?" and "?=", so even the first word fits "Subject: " in 78 columns.
constexpr size_t kEncodedWordBytes = 39;
// Longer header text is encoded (and so folded) even when it is ASCII.
constexpr size_t kMaxPlainHeaderText = 900;
// Quoted-printable lines are at most 76 characters with the soft break's '='.
constexpr size_t kMaxQpColumns = 75;

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

bool has_crlf(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

bool is_plain_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c > 0x7e) return false;
  return true;
}

// A display name as an RFC 5322 phrase: as is when it is an atom sequence, quoted when it
// holds specials, encoded words when it is not printable ASCII.
std::string format_display_name(std::string_view name) {
  if (!is_plain_ascii(name) || name.find("=?") != std::string_view::npos)
    return encode_header_text(name);
  if (name.find_first_of("()<>[]:;@\\,.\"") == std::string_view::npos) return std::string(name);
  std::string out = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string rfc5322_date(std::chrono::system_clock::time_point now) {
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  // Names from our own tables: strftime's %a/%b follow the process locale.
  return fmt::format("{}, {:02d} {} {:04d} {:02d}:{:02d}:{:02d} +0000", kDays.at(tm.tm_wday),
                     tm.tm_mday, kMonths.at(tm.tm_mon), tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                     tm.tm_sec);
}

// 128 random bits in hex: unique enough that no two alerts share a Message-ID.
std::string random_id() {
  std::random_device rd;
  std::string out;
  for (int i = 0; i < 4; ++i)
    out += fmt::format("{:08x}", static_cast<uint32_t>(rd()));
  return out;
}

// The body's lines without their ends; "\r\n", "\n" and a lone "\r" all end a line, and
// a last line without one counts.
std::vector<std::string_view> split_lines(std::string_view body) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < body.size()) {
    const size_t end = body.find_first_of("\r\n", start);
    if (end == std::string_view::npos) {
      lines.push_back(body.substr(start));
      break;
    }
    lines.push_back(body.substr(start, end - start));
    start = end + (body.compare(end, 2, "\r\n") == 0 ? 2 : 1);
  }
  return lines;
}

// One body line as quoted-printable physical lines joined by soft breaks ("=\r\n").
std::string quoted_printable(std::string_view line) {
  std::string out;
  size_t column = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    const bool last = i + 1 == line.size();
    // White space at the end of a line would be stripped in transit, so it is encoded.
    const bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last);
    const std::string piece = literal ? std::string(1, static_cast<char>(c))
                                      : fmt::format("={:02X}", static_cast<unsigned>(c));
    if (column + piece.size() > kMaxQpColumns) {
      out += "=\r\n";
      column = 0;
    }
    out += piece;
    column += piece.size();
  }
  return out;
}

// Appends `text` (lines separated by CRLF) with a CRLF after its last line, doubling a
// '.' that starts a line: a line of "." alone would otherwise end the DATA section.
void append_dot_stuffed(std::string& out, std::string_view text) {
  size_t start = 0;
  for (;;) {
    const size_t end = text.find("\r\n", start);
    const std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.front() == '.') out += '.';
    out += line;
    out += "\r\n";
    if (end == std::string_view::npos) return;
    start = end + 2;
  }
}

}  // namespace

void check_address(std::string_view address, std::string_view field) {
  if (address.empty()) throw std::invalid_argument(fmt::format("{}: no address", field));
  for (unsigned char c : address) {
    if (c >= 0x80)
      throw std::invalid_argument(
          fmt::format("{}: '{}' is not ASCII (SMTPUTF8 is not supported)", field, address));
    if (c <= 0x20 || c == 0x7f ||
        std::string_view("<>,;\"()\\").find(static_cast<char>(c)) != std::string_view::npos)
      throw std::invalid_argument(fmt::format(
          "{}: '{}' holds white space, a control byte or one of <>,;\"()\\", field, address));
  }
  const size_t at = address.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == address.size())
    throw std::invalid_argument(
        fmt::format("{}: '{}' is not an address (local-part@domain)", field, address));
}

Mailbox parse_mailbox(const std::string& from) {
  if (has_crlf(from)) throw std::invalid_argument("from: CR or LF in the sender");
  const size_t lt = from.find('<');
  if (lt == std::string::npos) {
    Mailbox m{"", std::string(trim(from))};
    check_address(m.address, "from");
    return m;
  }
  const size_t gt = from.find('>', lt);
  if (gt == std::string::npos)
    throw std::invalid_argument("from: '<' without '>' in '" + from + "'");
  if (!trim(std::string_view(from).substr(gt + 1)).empty())
    throw std::invalid_argument("from: text after '>' in '" + from + "'");
  Mailbox m{std::string(trim(std::string_view(from).substr(0, lt))),
            from.substr(lt + 1, gt - lt - 1)};
  if (m.display_name.size() >= 2 && m.display_name.front() == '"' && m.display_name.back() == '"') {
    std::string unquoted;
    for (size_t i = 1; i + 1 < m.display_name.size(); ++i) {
      if (m.display_name[i] == '\\' && i + 2 < m.display_name.size()) ++i;
      unquoted += m.display_name[i];
    }
    m.display_name = std::move(unquoted);
  }
  check_address(m.address, "from");
  return m;
}

void check_message(const EmailMessage& message) {
  parse_mailbox(message.from);
  if (message.to.empty()) throw std::invalid_argument("to: no recipient");
  for (const auto& to : message.to) {
    if (has_crlf(to)) throw std::invalid_argument("to: CR or LF in a recipient");
    check_address(to, "to");
  }
  if (has_crlf(message.subject)) throw std::invalid_argument("subject: CR or LF in the subject");
}

std::string encode_base64(std::string_view bytes) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const size_t n = std::min<size_t>(3, bytes.size() - i);
    uint32_t group = 0;
    for (size_t k = 0; k < 3; ++k)
      group = (group << 8) | (k < n ? static_cast<unsigned char>(bytes[i + k]) : 0u);
    for (size_t k = 0; k < 4; ++k)
      out += k <= n ? kAlphabet[(group >> (18 - 6 * k)) & 0x3f] : '=';
  }
  return out;
}

std::string encode_header_text(std::string_view text) {
  if (is_plain_ascii(text) && text.find("=?") == std::string_view::npos &&
      text.size() <= kMaxPlainHeaderText)
    return std::string(text);
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = std::min(pos + kEncodedWordBytes, text.size());
    // Back up to the start of a UTF-8 sequence (continuation bytes are 10xxxxxx), unless
    // the text is so malformed that there is none in reach.
    size_t cut = end;
    while (cut < text.size() && cut > pos && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80)
      --cut;
    if (cut > pos) end = cut;
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + encode_base64(text.substr(pos, end - pos)) + "?=";
    pos = end;
  }
  return out;
}

bool has_8bit(std::string_view text) {
  for (unsigned char c : text)
    if (c >= 0x80) return true;
  return false;
}

std::string format_data(const EmailMessage& message, bool eight_bit_ok,
                        std::chrono::system_clock::time_point now) {
  const Mailbox from = parse_mailbox(message.from);
  std::string out = "Date: " + rfc5322_date(now) + "\r\n";
  out += "From: ";
  if (from.display_name.empty())
    out += from.address;
  else
    out += format_display_name(from.display_name) + " <" + from.address + ">";
  out += "\r\n";
  out += "To: ";
  size_t column = 4;
  for (size_t i = 0; i < message.to.size(); ++i) {
    if (i > 0) {
      // Fold before a recipient that would take the line past 78 columns.
      const bool fold = column + 2 + message.to[i].size() > 78;
      out += fold ? ",\r\n " : ", ";
      column = fold ? 1 : column + 2;
    }
    out += message.to[i];
    column += message.to[i].size();
  }
  out += "\r\n";
  out += "Subject: " + encode_header_text(message.subject) + "\r\n";
  out += "Message-ID: <" + random_id() + "@metricsd>\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\n";

  const std::vector<std::string_view> lines = split_lines(message.body);
  // 8bit forbids NUL and lines over 998 octets; without 8BITMIME it must be 7-bit too.
  bool quote =
      (!eight_bit_ok && has_8bit(message.body)) || message.body.find('\0') != std::string::npos;
  for (const auto& line : lines)
    quote = quote || line.size() > kMaxLineOctets;
  out += quote ? "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
               : "Content-Transfer-Encoding: 8bit\r\n\r\n";
  for (const auto& line : lines)
    append_dot_stuffed(out, quote ? quoted_printable(line) : line);
  return out;
}

}  // namespace metricsd::notify
