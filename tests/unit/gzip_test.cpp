// gzip request bodies (api/gzip.hpp): round trips through zlib's own gzip writer, and
// corrupt, truncated, trailing and oversized input refused with a reason.
#include "api/gzip.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <stdexcept>
#include <string>

namespace metricsd::api {
namespace {

// gzip-compresses `data` (deflate with the gzip wrapper: windowBits 15 + 16).
std::string gzip(std::string_view data) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2 failed");
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate did not finish");
  return out;
}

std::string random_text(size_t n) {
  std::mt19937 rng(42);
  std::string s(n, '\0');
  for (auto& c : s)
    c = static_cast<char>(rng());
  return s;
}

struct Inflated {
  std::string error;
  std::string out;
  bool too_large = true;
};

Inflated inflate_body(std::string_view in, size_t max_bytes = 1 << 24) {
  Inflated r;
  r.error = gunzip(in, max_bytes, r.out, &r.too_large);
  return r;
}

TEST(Gunzip, RoundTripsWhatZlibCompressed) {
  const std::string cases[] = {
      "", "cpu,node=n usage=1\n",
      std::string(1 << 20, 'a'),  // many output chunks from a small input
      random_text(200'000),       // incompressible, several chunks of input
  };
  for (const auto& data : cases) {
    SCOPED_TRACE(data.size());
    Inflated r = inflate_body(gzip(data));
    EXPECT_EQ(r.error, "");
    EXPECT_FALSE(r.too_large);
    EXPECT_EQ(r.out, data);
  }
}

TEST(Gunzip, ExactlyTheLimitIsAcceptedOneMoreIsTooLarge) {
  std::string data(100'000, 'x');
  Inflated r = inflate_body(gzip(data), data.size());
  EXPECT_EQ(r.error, "");
  EXPECT_FALSE(r.too_large);
  EXPECT_EQ(r.out, data);
  r = inflate_body(gzip(data), data.size() - 1);
  EXPECT_NE(r.error, "");
  EXPECT_TRUE(r.too_large);
  EXPECT_LE(r.out.size(), data.size() - 1);
  // A small bomb: 64 MiB of zeros from about 64 KiB of input, refused early.
  std::string bomb = gzip(std::string(64 << 20, '\0'));
  r = inflate_body(bomb, 1 << 20);
  EXPECT_TRUE(r.too_large);
  EXPECT_NE(r.error.find("larger than"), std::string::npos) << r.error;
}

TEST(Gunzip, CorruptInputIsRefused) {
  std::string good = gzip(random_text(10'000));
  struct Case {
    std::string input;
    const char* what;
  };
  std::string bad_crc = good;
  bad_crc[bad_crc.size() - 6] ^= 0x55;  // inside the CRC-32 trailer
  std::string bad_len = good;
  bad_len[bad_len.size() - 2] ^= 0x01;  // inside the ISIZE trailer
  std::string bad_magic = good;
  bad_magic[0] = 'x';
  std::string bad_method = good;
  bad_method[2] = 7;
  std::string bad_data = good;
  for (size_t i = 20; i < 60; ++i)
    bad_data[i] = static_cast<char>(0xFF);
  const Case cases[] = {
      {"plain text, not gzip", "not gzip"}, {bad_magic, "bad magic"}, {bad_method, "bad method"},
      {bad_data, "garbled deflate data"},   {bad_crc, "bad crc"},     {bad_len, "bad length"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    Inflated r = inflate_body(c.input);
    EXPECT_NE(r.error, "");
    EXPECT_FALSE(r.too_large);
  }
}

TEST(Gunzip, TruncatedInputIsRefusedAsTruncated) {
  std::string good = gzip(random_text(10'000));
  for (size_t cut : {size_t{1}, size_t{4}, size_t{8}, size_t{100}, good.size() - 10}) {
    SCOPED_TRACE(cut);
    Inflated r = inflate_body(std::string_view(good).substr(0, good.size() - cut));
    EXPECT_NE(r.error.find("truncated"), std::string::npos) << r.error;
  }
  Inflated r = inflate_body("");
  EXPECT_NE(r.error.find("truncated"), std::string::npos) << r.error;
}

TEST(Gunzip, TrailingDataAfterTheStreamIsRefused) {
  Inflated r = inflate_body(gzip("a v=1\n") + "junk");
  EXPECT_NE(r.error.find("trailing data"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace metricsd::api
