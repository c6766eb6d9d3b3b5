// IP addresses and CIDR lists; see cidr.hpp.
#include "core/cidr.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace metricsd {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_digit);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    size_t p = s.find(sep);
    out.push_back(s.substr(0, p));
    if (p == std::string_view::npos) return out;
    s.remove_prefix(p + 1);
  }
}

// Dotted decimal, exactly four octets, no leading zeros. The reason in *why on failure.
std::optional<std::array<uint8_t, 4>> parse_v4(std::string_view s, std::string* why) {
  auto fail = [&](std::string reason) {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  auto parts = split(s, '.');
  if (parts.size() != 4)
    return fail(fmt::format(
        "\"{}\" is not an IP address (IPv4: four numbers separated by dots; names are not "
        "resolved)",
        s));
  std::array<uint8_t, 4> out{};
  for (size_t i = 0; i < 4; ++i) {
    std::string_view p = parts[i];
    if (!all_digits(p)) return fail(fmt::format("octet \"{}\" is not a number from 0 to 255", p));
    if (p.size() > 1 && p[0] == '0')
      return fail(fmt::format("octet \"{}\" has a leading zero (octal to some tools)", p));
    if (p.size() > 3) return fail(fmt::format("octet \"{}\" is over 255", p));
    int v = 0;
    std::from_chars(p.data(), p.data() + p.size(), v);
    if (v > 255) return fail(fmt::format("octet \"{}\" is over 255", p));
    out[i] = static_cast<uint8_t>(v);
  }
  return out;
}

// Colon-separated hex groups of one side of "::"; the last group of the address may be a
// dotted IPv4 address (two groups).
bool parse_groups(std::string_view s, bool v4_tail_allowed, std::vector<uint16_t>& out) {
  if (s.empty()) return true;
  auto groups = split(s, ':');
  for (size_t i = 0; i < groups.size(); ++i) {
    std::string_view g = groups[i];
    if (g.find('.') != std::string_view::npos) {
      if (!v4_tail_allowed || i + 1 != groups.size()) return false;
      auto v4 = parse_v4(g, nullptr);
      if (!v4) return false;
      out.push_back(static_cast<uint16_t>((*v4)[0] << 8 | (*v4)[1]));
      out.push_back(static_cast<uint16_t>((*v4)[2] << 8 | (*v4)[3]));
      continue;
    }
    if (g.empty() || g.size() > 4) return false;
    unsigned v = 0;
    for (char c : g) {
      int h = hex_value(c);
      if (h < 0) return false;
      v = v << 4 | static_cast<unsigned>(h);
    }
    out.push_back(static_cast<uint16_t>(v));
  }
  return true;
}

std::optional<std::array<uint8_t, 16>> parse_v6(std::string_view s) {
  const size_t gap = s.find("::");
  if (gap != std::string_view::npos && s.find("::", gap + 1) != std::string_view::npos)
    return std::nullopt;  // "::" at most once (this also refuses ":::")
  std::vector<uint16_t> head, tail;
  if (gap == std::string_view::npos) {
    if (!parse_groups(s, true, head) || head.size() != 8) return std::nullopt;
  } else {
    if (!parse_groups(s.substr(0, gap), false, head) ||
        !parse_groups(s.substr(gap + 2), true, tail) || head.size() + tail.size() > 7)
      return std::nullopt;
  }
  std::array<uint8_t, 16> out{};
  auto put = [&out](size_t group, uint16_t v) {
    out[2 * group] = static_cast<uint8_t>(v >> 8);
    out[2 * group + 1] = static_cast<uint8_t>(v & 0xff);
  };
  for (size_t i = 0; i < head.size(); ++i)
    put(i, head[i]);
  for (size_t i = 0; i < tail.size(); ++i)
    put(8 - tail.size() + i, tail[i]);
  return out;
}

bool is_v4_mapped(const std::array<uint8_t, 16>& b) {
  for (size_t i = 0; i < 10; ++i)
    if (b[i] != 0) return false;
  return b[10] == 0xff && b[11] == 0xff;
}

// `a` with every bit past `prefix_bits` cleared.
IpAddress masked(IpAddress a, int prefix_bits) {
  const size_t size = a.v4 ? 4 : 16;
  for (size_t i = 0; i < size; ++i) {
    int keep = std::clamp(prefix_bits - static_cast<int>(i) * 8, 0, 8);
    a.bytes[i] &= static_cast<uint8_t>(0xff00 >> keep);
  }
  return a;
}

std::string address_text(const IpAddress& a) {
  if (a.v4) return fmt::format("{}.{}.{}.{}", a.bytes[0], a.bytes[1], a.bytes[2], a.bytes[3]);
  std::array<unsigned, 8> g{};
  for (size_t i = 0; i < 8; ++i)
    g[i] = static_cast<unsigned>(a.bytes[2 * i] << 8 | a.bytes[2 * i + 1]);
  // The longest run of two or more zero groups becomes "::".
  size_t best = 8, best_len = 1;
  for (size_t i = 0; i < 8;) {
    size_t j = i;
    while (j < 8 && g[j] == 0)
      ++j;
    if (j - i > best_len) best = i, best_len = j - i;
    i = j == i ? i + 1 : j;
  }
  std::string out;
  for (size_t i = 0; i < 8; ++i) {
    if (i == best) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    out += fmt::format("{:x}", g[i]);
  }
  return out;
}

}  // namespace

IpAddress IpAddress::from_v4(const std::array<uint8_t, 4>& b) {
  IpAddress a;
  std::copy(b.begin(), b.end(), a.bytes.begin());
  return a;
}

IpAddress IpAddress::from_v6(const std::array<uint8_t, 16>& b) {
  if (is_v4_mapped(b)) return from_v4({b[12], b[13], b[14], b[15]});
  IpAddress a;
  a.v4 = false;
  a.bytes = b;
  return a;
}

std::optional<IpAddress> parse_ip_address(std::string_view text) {
  if (text.find(':') != std::string_view::npos) {
    if (auto v6 = parse_v6(text)) return IpAddress::from_v6(*v6);
    return std::nullopt;
  }
  if (auto v4 = parse_v4(text, nullptr)) return IpAddress::from_v4(*v4);
  return std::nullopt;
}

std::optional<IpAddress> parse_peer_address(std::string_view peer) {
  const size_t colon = peer.rfind(':');
  if (colon == std::string_view::npos || !all_digits(peer.substr(colon + 1))) return std::nullopt;
  std::string_view host = peer.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  host = host.substr(0, host.find('%'));
  return parse_ip_address(host);
}

bool CidrRange::contains(const IpAddress& a) const {
  return a.v4 == base.v4 && masked(a, prefix_bits) == base;
}

std::string CidrRange::to_string() const {
  return fmt::format("{}/{}", address_text(base), prefix_bits);
}

std::optional<CidrRange> parse_cidr(std::string_view entry, std::string* why) {
  auto fail = [&](std::string reason) -> std::optional<CidrRange> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  if (entry.empty()) return fail("empty entry");
  if (entry.find_first_of(" \t") != std::string_view::npos) return fail("contains a space");
  if (entry.find('%') != std::string_view::npos)
    return fail("zone indexes (%...) are not supported");
  const size_t slash = entry.find('/');
  std::string_view addr = entry.substr(0, slash);
  std::optional<int> prefix;
  if (slash != std::string_view::npos) {
    std::string_view p = entry.substr(slash + 1);
    if (p.empty()) return fail("no prefix length after /");
    if (!all_digits(p) || p.size() > 3)
      return fail(fmt::format("prefix length \"{}\" is not a number from 0 to 128", p));
    int v = 0;
    std::from_chars(p.data(), p.data() + p.size(), v);
    prefix = v;
  }
  CidrRange r;
  if (addr.find(':') != std::string_view::npos) {
    auto v6 = parse_v6(addr);
    if (!v6) return fail(fmt::format("\"{}\" is not an IPv6 address", addr));
    if (prefix && *prefix > 128)
      return fail(fmt::format("prefix length {} is over 128 for an IPv6 address", *prefix));
    r.prefix_bits = prefix.value_or(128);
    if (is_v4_mapped(*v6) && r.prefix_bits >= 96) {
      r.base = IpAddress::from_v6(*v6);  // the IPv4 range it spells
      r.prefix_bits -= 96;
    } else {
      r.base.v4 = false;
      r.base.bytes = *v6;
    }
  } else {
    std::string reason;
    auto v4 = parse_v4(addr, &reason);
    if (!v4) return fail(reason);
    if (prefix && *prefix > 32)
      return fail(fmt::format("prefix length {} is over 32 for an IPv4 address", *prefix));
    r.base = IpAddress::from_v4(*v4);
    r.prefix_bits = prefix.value_or(32);
  }
  if (IpAddress m = masked(r.base, r.prefix_bits); m != r.base) {
    CidrRange meant{m, r.prefix_bits};
    return fail(fmt::format("the address has bits set past the /{} prefix (the range is {})",
                            r.prefix_bits, meant.to_string()));
  }
  return r;
}

CidrError::CidrError(size_t position, std::string entry, const std::string& reason)
    : std::invalid_argument(fmt::format("entry {} \"{}\": {}", position, entry, reason)),
      position_(position),
      entry_(std::move(entry)) {}

CidrList CidrList::parse(std::string_view text) {
  CidrList out;
  if (text.find_first_not_of(" \t") == std::string_view::npos) return out;
  auto entries = split(text, ',');
  for (size_t i = 0; i < entries.size(); ++i) {
    std::string_view e = entries[i];
    const size_t first = e.find_first_not_of(" \t");
    e = first == std::string_view::npos ? std::string_view() : e.substr(first);
    e = e.substr(0, e.find_last_not_of(" \t") + 1);
    std::string why;
    auto range = parse_cidr(e, &why);
    if (!range) {
      if (e.empty()) why = "empty (two commas in a row, or one at an end)";
      throw CidrError(i + 1, std::string(e), why);
    }
    out.ranges_.push_back(*range);
  }
  return out;
}

bool CidrList::contains(const IpAddress& a) const {
  return std::any_of(ranges_.begin(), ranges_.end(),
                     [&a](const CidrRange& r) { return r.contains(a); });
}

}  // namespace metricsd
