// IP addresses, CIDR ranges and lists of them, as the network.* settings write them:
// "10.0.0.0/8", "192.168.1.5" (one address: /32), "::1", "fd00::/8", comma-separated.
// Pure logic, no I/O.
//
// Families: an IPv4 range matches IPv4 peers, and IPv4-mapped IPv6 peers (::ffff:10.1.2.3,
// what a dual-stack listener sees) as the IPv4 address they carry; an IPv6 range matches
// IPv6 peers only. An entry written IPv4-mapped (::ffff:10.0.0.0/104) is the IPv4 range.
//
// Strict on purpose, since a typo in an allow or deny list is a security hole: a range whose
// address has bits set past its prefix ("10.0.0.1/8") is refused, not masked, and so are
// IPv4 octets with leading zeros ("010.0.0.1", octal to some tools), zone indexes
// ("fe80::1%eth0"), and spaces inside an entry. Spaces around an entry are allowed.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace metricsd {

// An IPv4 address (the first 4 bytes) or an IPv6 address.
struct IpAddress {
  bool v4 = true;
  std::array<uint8_t, 16> bytes{};

  static IpAddress from_v4(const std::array<uint8_t, 4>& b);
  // An IPv4-mapped address (::ffff:a.b.c.d) becomes the IPv4 address.
  static IpAddress from_v6(const std::array<uint8_t, 16>& b);
  bool operator==(const IpAddress&) const = default;
};

// "10.1.2.3", "::1", "::ffff:10.1.2.3" (the IPv4 address); nullopt when malformed. No
// prefix, port or zone.
std::optional<IpAddress> parse_ip_address(std::string_view text);

// The address part of a peer as the server writes it: "10.1.2.3:5000", "::1:5000",
// "[::1]:5000", with or without the port, a zone (%eth0) dropped; nullopt when malformed.
std::optional<IpAddress> parse_peer_address(std::string_view peer);

struct CidrRange {
  IpAddress base;       // no bits set past the prefix
  int prefix_bits = 0;  // 0..32 for IPv4, 0..128 for IPv6

  bool contains(const IpAddress& a) const;
  std::string to_string() const;  // "10.0.0.0/8"
};

// One entry ("10.0.0.0/8", "::1"); nullopt with the reason in *why when it is not one.
std::optional<CidrRange> parse_cidr(std::string_view entry, std::string* why);

// An entry of a list that is not a range. what(): `entry 2 "10.0.0.300/8": ...`.
class CidrError : public std::invalid_argument {
 public:
  CidrError(size_t position, std::string entry, const std::string& reason);
  size_t position() const { return position_; }  // 1-based
  const std::string& entry() const { return entry_; }

 private:
  size_t position_;
  std::string entry_;
};

// A comma-separated list of ranges. The empty text (or only spaces) is the empty list;
// an empty entry ("a,,b", "a,") is an error.
class CidrList {
 public:
  CidrList() = default;
  // Throws CidrError naming the first bad entry.
  static CidrList parse(std::string_view text);

  bool empty() const { return ranges_.empty(); }
  size_t size() const { return ranges_.size(); }
  const std::vector<CidrRange>& ranges() const { return ranges_; }
  bool contains(const IpAddress& a) const;

 private:
  std::vector<CidrRange> ranges_;
};

}  // namespace metricsd
