// CIDR ranges and lists: what parses (IPv4, IPv6, IPv4-mapped, prefix edges), what is
// refused and how the refusal names the entry, and which addresses a list contains.
#include "core/cidr.hpp"

#include <gtest/gtest.h>

namespace metricsd {
namespace {

IpAddress ip(std::string_view text) {
  auto a = parse_ip_address(text);
  if (!a) throw std::logic_error("test names a bad address: " + std::string(text));
  return *a;
}

bool list_contains(std::string_view list, std::string_view address) {
  return CidrList::parse(list).contains(ip(address));
}

// The reason parse_cidr gives for `entry`, or "accepted".
std::string refusal(std::string_view entry) {
  std::string why;
  return parse_cidr(entry, &why) ? "accepted" : why;
}

TEST(Cidr, ParsesAddressesOfBothFamilies) {
  EXPECT_TRUE(ip("10.1.2.3").v4);
  EXPECT_EQ(ip("10.1.2.3").bytes[3], 3);
  EXPECT_FALSE(ip("::1").v4);
  EXPECT_EQ(ip("::1").bytes[15], 1);
  EXPECT_EQ(ip("fd00::"), ip("FD00:0:0:0:0:0:0:0"));
  EXPECT_EQ(ip("1:2:3:4:5:6:7:8").bytes[15], 8);
  // An IPv4-mapped IPv6 address is the IPv4 address, in either spelling.
  EXPECT_EQ(ip("::ffff:10.1.2.3"), ip("10.1.2.3"));
  EXPECT_EQ(ip("::ffff:a01:203"), ip("10.1.2.3"));
  // IPv4-compatible (::a.b.c.d, deprecated) is not mapped: it stays IPv6.
  EXPECT_FALSE(ip("::10.1.2.3").v4);
}

TEST(Cidr, RefusesMalformedAddresses) {
  for (std::string_view bad :
       {"",         "1.2.3",   "1.2.3.4.5", "256.1.1.1",         "1.2.3.-4",
        "01.2.3.4", "1..2.3",  "a.b.c.d",   "1.2.3.4 ",          "localhost",
        ":::",      "1::2::3", "12345::",   "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7",
        "g::1",     "::1.2.3", "1.2.3.4::", "::ffff:1.2.3.256",  "fe80::1%eth0",
        "[::1]"}) {
    EXPECT_FALSE(parse_ip_address(bad)) << '"' << bad << '"';
  }
}

TEST(Cidr, PeerAddressesAsTheServerWritesThem) {
  EXPECT_EQ(parse_peer_address("10.1.2.3:5000"), ip("10.1.2.3"));
  EXPECT_EQ(parse_peer_address("::1:5000"), ip("::1"));
  EXPECT_EQ(parse_peer_address("[::1]:5000"), ip("::1"));
  EXPECT_EQ(parse_peer_address("::ffff:10.1.2.3:80"), ip("10.1.2.3"));
  EXPECT_EQ(parse_peer_address("fe80::1%eth0:80"), ip("fe80::1"));
  EXPECT_FALSE(parse_peer_address("10.1.2.3"));  // no port
  EXPECT_FALSE(parse_peer_address("10.1.2.3:http"));
  EXPECT_FALSE(parse_peer_address(""));
  EXPECT_FALSE(parse_peer_address("300.1.2.3:80"));
}

TEST(Cidr, PrefixEdges) {
  // /0: everything of its family, nothing of the other.
  EXPECT_TRUE(list_contains("0.0.0.0/0", "255.255.255.255"));
  EXPECT_TRUE(list_contains("0.0.0.0/0", "0.0.0.0"));
  EXPECT_FALSE(list_contains("0.0.0.0/0", "::1"));
  EXPECT_TRUE(list_contains("::/0", "2001:db8::1"));
  EXPECT_FALSE(list_contains("::/0", "10.0.0.1"));
  EXPECT_FALSE(list_contains("::/0", "::ffff:10.0.0.1"));  // mapped: an IPv4 peer
  // /32 and /128: one address; a bare address means the same.
  EXPECT_TRUE(list_contains("192.168.1.5/32", "192.168.1.5"));
  EXPECT_FALSE(list_contains("192.168.1.5/32", "192.168.1.4"));
  EXPECT_FALSE(list_contains("192.168.1.5", "192.168.1.6"));
  EXPECT_TRUE(list_contains("::1/128", "::1"));
  EXPECT_FALSE(list_contains("::1", "::2"));
  // Boundaries of a range, including prefixes that end inside a byte.
  EXPECT_TRUE(list_contains("10.0.0.0/8", "10.255.255.255"));
  EXPECT_FALSE(list_contains("10.0.0.0/8", "11.0.0.0"));
  EXPECT_FALSE(list_contains("10.0.0.0/8", "9.255.255.255"));
  EXPECT_TRUE(list_contains("172.16.0.0/12", "172.31.255.255"));
  EXPECT_FALSE(list_contains("172.16.0.0/12", "172.32.0.0"));
  EXPECT_TRUE(list_contains("192.168.1.4/31", "192.168.1.5"));
  EXPECT_FALSE(list_contains("192.168.1.4/31", "192.168.1.6"));
  EXPECT_TRUE(list_contains("fd00::/8", "fdff:ffff::1"));
  EXPECT_FALSE(list_contains("fd00::/8", "fe00::1"));
  EXPECT_TRUE(list_contains("fe80::/10", "febf::1"));
  EXPECT_FALSE(list_contains("fe80::/10", "fec0::1"));
  EXPECT_TRUE(list_contains("2001:db8::/127", "2001:db8::1"));
  EXPECT_FALSE(list_contains("2001:db8::/127", "2001:db8::2"));
}

TEST(Cidr, IPv4MappedPeersMatchIPv4Ranges) {
  EXPECT_TRUE(list_contains("10.0.0.0/8", "::ffff:10.1.2.3"));
  EXPECT_FALSE(list_contains("10.0.0.0/8", "::ffff:11.1.2.3"));
  // An entry written mapped is the IPv4 range it spells (prefix - 96).
  auto r = parse_cidr("::ffff:10.0.0.0/104", nullptr);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->base.v4);
  EXPECT_EQ(r->prefix_bits, 8);
  EXPECT_EQ(r->to_string(), "10.0.0.0/8");
  EXPECT_TRUE(list_contains("::ffff:10.0.0.0/104", "10.200.0.1"));
  EXPECT_TRUE(list_contains("::ffff:127.0.0.1", "127.0.0.1"));
}

TEST(Cidr, HostBitsPastThePrefixAreRefusedNamingTheRange) {
  // Refused, not masked: "10.0.0.1/8" is a typo more often than a wish for 10.0.0.0/8.
  EXPECT_EQ(refusal("10.0.0.1/8"),
            "the address has bits set past the /8 prefix (the range is 10.0.0.0/8)");
  EXPECT_EQ(refusal("192.168.1.5/31"),
            "the address has bits set past the /31 prefix (the range is 192.168.1.4/31)");
  EXPECT_EQ(refusal("1.2.3.4/0"),
            "the address has bits set past the /0 prefix (the range is 0.0.0.0/0)");
  EXPECT_EQ(refusal("fd00::1/8"),
            "the address has bits set past the /8 prefix (the range is fd00::/8)");
  EXPECT_EQ(refusal("2001:db8:0:0:1::/48"),
            "the address has bits set past the /48 prefix (the range is 2001:db8::/48)");
  EXPECT_EQ(refusal("10.0.0.0/8"), "accepted");
}

TEST(Cidr, BadEntriesAreRefusedWithTheReason) {
  struct Case {
    std::string_view entry;
    std::string_view reason_part;
  };
  const Case cases[] = {
      {"10.0.0.300/8", "octet \"300\" is over 255"},
      {"10.0.0.1000", "octet \"1000\" is over 255"},
      {"10.0.0.256", "octet \"256\" is over 255"},
      {"10.0.0.-1", "octet \"-1\" is not a number"},
      {"10.0.x.0", "octet \"x\" is not a number"},
      {"10.0..0", "octet \"\" is not a number"},
      {"010.0.0.1", "leading zero"},
      {"10.0.0", "is not an IP address"},
      {"10.0.0.0.0", "is not an IP address"},
      {"localhost", "names are not resolved"},
      {"10.0.0.0/33", "prefix length 33 is over 32"},
      {"::/129", "prefix length 129 is over 128"},
      {"10.0.0.0/", "no prefix length after /"},
      {"10.0.0.0/-1", "prefix length \"-1\" is not a number"},
      {"10.0.0.0/8/8", "prefix length \"8/8\" is not a number"},
      {"10.0.0.0/0008", "prefix length \"0008\" is not a number"},
      {"10.0.0.0/x", "prefix length \"x\" is not a number"},
      {"/8", "is not an IP address"},
      {"10.0.0.0 /8", "contains a space"},
      {"10.0.0.0/ 8", "contains a space"},
      {"fe80::1%eth0", "zone indexes"},
      {"fd00:::/8", "\"fd00:::\" is not an IPv6 address"},
      {"1::2::3", "is not an IPv6 address"},
      {"::ffff:10.0.0.0/80", "bits set past the /80 prefix"},
      {"", "empty"},
  };
  for (const auto& c : cases) {
    std::string why = refusal(c.entry);
    EXPECT_NE(why.find(c.reason_part), std::string::npos)
        << '"' << c.entry << "\": " << why << " (expected \"" << c.reason_part << "\")";
  }
}

// Runs CidrList::parse, expects a CidrError, and returns it.
CidrError list_error(std::string_view text) {
  try {
    CidrList::parse(text);
  } catch (const CidrError& e) {
    return e;
  }
  ADD_FAILURE() << "accepted \"" << text << '"';
  return CidrError(0, "", "");
}

TEST(CidrList, ErrorsNameTheEntryAndItsPosition) {
  CidrError e = list_error("10.0.0.0/8, 192.168.1.300, ::1");
  EXPECT_EQ(e.position(), 2u);
  EXPECT_EQ(e.entry(), "192.168.1.300");
  EXPECT_STREQ(e.what(), "entry 2 \"192.168.1.300\": octet \"300\" is over 255");
  // Empty entries: two commas in a row, a leading or trailing comma.
  EXPECT_EQ(list_error("10.0.0.0/8,,::1").position(), 2u);
  EXPECT_EQ(list_error(",10.0.0.0/8").position(), 1u);
  EXPECT_EQ(list_error("10.0.0.0/8,").position(), 2u);
  EXPECT_EQ(list_error("10.0.0.0/8, ").position(), 2u);
  EXPECT_NE(std::string(list_error("10.0.0.0/8,").what()).find("empty"), std::string::npos);
  EXPECT_EQ(list_error(",").position(), 1u);
  // A space inside an entry is not a separator.
  EXPECT_EQ(list_error("10.0.0.1 10.0.0.2").entry(), "10.0.0.1 10.0.0.2");
  EXPECT_EQ(list_error("10.0.0.0/8;10.0.0.1").position(), 1u);
}

TEST(CidrList, SpacesAroundEntriesAndTheEmptyList) {
  EXPECT_TRUE(CidrList::parse("").empty());
  EXPECT_TRUE(CidrList::parse("  \t ").empty());
  CidrList l = CidrList::parse(" 10.0.0.0/8 ,\t::1 ,192.168.1.5");
  EXPECT_EQ(l.size(), 3u);
  EXPECT_TRUE(l.contains(ip("10.9.9.9")));
  EXPECT_TRUE(l.contains(ip("::1")));
  EXPECT_TRUE(l.contains(ip("192.168.1.5")));
  EXPECT_FALSE(l.contains(ip("192.168.1.6")));
  EXPECT_FALSE(l.contains(ip("::2")));
  EXPECT_FALSE(CidrList().contains(ip("10.0.0.1")));
}

TEST(CidrList, RangesPrintAsTheyParse) {
  for (std::string_view r : {"10.0.0.0/8", "0.0.0.0/0", "1.2.3.4/32", "::/0", "::1/128", "fd00::/8",
                             "2001:db8::/32", "1:0:0:2::/64", "1:2:3:4:5:6:7:8/128"}) {
    auto parsed = parse_cidr(r, nullptr);
    ASSERT_TRUE(parsed) << r;
    EXPECT_EQ(parsed->to_string(), r);
  }
}

}  // namespace
}  // namespace metricsd
