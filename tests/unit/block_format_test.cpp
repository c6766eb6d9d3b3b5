// The stored block format: every double and every int64 comes back bit for bit (tables of
// the awkward ones, then random columns against a plain copy), telemetry costs few bytes,
// and a corrupt block is a CorruptBlock saying where, never a crash or a wrong answer.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "core/block_format.hpp"
#include "core/column_codec.hpp"

namespace metricsd {
namespace {

using Lim = std::numeric_limits<double>;

uint64_t bits(double v) {
  return std::bit_cast<uint64_t>(v);
}

void expect_samples_round_trip(const std::vector<int64_t>& ts, const std::vector<double>& vals) {
  std::string block = encode_samples(ts, vals);
  std::vector<int64_t> ts2;
  std::vector<double> vals2;
  decode_samples(block, ts2, vals2);
  ASSERT_EQ(ts2, ts);
  ASSERT_EQ(vals2.size(), vals.size());
  for (size_t i = 0; i < vals.size(); ++i)
    ASSERT_EQ(bits(vals2[i]), bits(vals[i])) << "value " << i << " = " << vals[i];
}

TEST(BlockFormat, AwkwardDoublesComeBackBitForBit) {
  const std::vector<double> table = {
      0.0,
      -0.0,
      Lim::quiet_NaN(),
      -Lim::quiet_NaN(),
      std::bit_cast<double>(uint64_t{0x7ff0000000000123}),  // signalling NaN with payload
      Lim::infinity(),
      -Lim::infinity(),
      Lim::denorm_min(),
      -Lim::denorm_min(),
      Lim::min(),
      Lim::max(),
      Lim::lowest(),
      Lim::epsilon(),
      1e-300,
      1e300,
      0.1 + 0.2,
      35.2,
      -17.5,
      9007199254740993.0,  // 2^53 + 1 rounds to 2^53
      123456789.123456789,
      1e15 + 0.3,
      42.0,
  };
  std::vector<int64_t> ts;
  for (size_t i = 0; i < table.size(); ++i)
    ts.push_back(1'700'000'000'000 + static_cast<int64_t>(i) * 10'000);
  expect_samples_round_trip(ts, table);
  // Each alone, in a one-sample block, and each between ordinary telemetry.
  for (double v : table) {
    expect_samples_round_trip({5}, {v});
    expect_samples_round_trip({1, 2, 3}, {35.2, v, 35.3});
  }
}

TEST(BlockFormat, AwkwardTimesComeBackExactly) {
  const int64_t big = std::numeric_limits<int64_t>::max(),
                small = std::numeric_limits<int64_t>::min();
  const std::vector<std::vector<int64_t>> table = {
      {},
      {0},
      {small},
      {big},
      {small, big, small, big},
      {7, 7, 7, 7},                    // repeated times
      {1000, 1000, 2000, 2000, 2000},  // repeated, then a step
      {-5000, -4000, -3000, 1000000},  // before the epoch, then a gap
      {1'700'000'000'000, 1'700'000'010'000, 1'700'000'020'000, 1'700'000'030'001},
  };
  for (const auto& ts : table)
    expect_samples_round_trip(ts, std::vector<double>(ts.size(), 1.5));
}

TEST(BlockFormat, RandomColumnsMatchAPlainCopy) {
  std::mt19937_64 rng(20261204);
  for (int round = 0; round < 300; ++round) {
    size_t n = std::uniform_int_distribution<size_t>(1, 700)(rng);
    std::vector<int64_t> ts;
    std::vector<double> vals;
    int64_t t = static_cast<int64_t>(rng() >> 20);
    double walk = 50;
    int kind = round % 5;
    for (size_t i = 0; i < n; ++i) {
      // Wrapping on purpose for kind 4: times anywhere in int64, deltas that overflow.
      t = static_cast<int64_t>(static_cast<uint64_t>(t) + (kind == 4 ? rng() : rng() % 20'000));
      ts.push_back(t);
      switch (kind) {
        case 0:  // any bit pattern
          vals.push_back(std::bit_cast<double>(rng()));
          break;
        case 1:  // a walk with one decimal
          walk += static_cast<double>(static_cast<int>(rng() % 21) - 10) / 10;
          vals.push_back(std::round(walk * 10) / 10);
          break;
        case 2:  // arithmetic noise
          walk += 0.1;
          vals.push_back(walk * 3.3);
          break;
        default:  // mixed magnitudes and specials
          vals.push_back(i % 7 == 0 ? Lim::quiet_NaN()
                                    : std::ldexp(static_cast<double>(rng() % 1000),
                                                 static_cast<int>(rng() % 200) - 100));
      }
    }
    expect_samples_round_trip(ts, vals);
  }
}

TEST(BlockFormat, RollupsComeBackBitForBit) {
  std::vector<RollupBucket> buckets;
  double v = 40;
  for (int m = 0; m < 60; ++m) {
    RollupBucket b;
    b.bucket_ms = 1'700'000'040'000 + m * 60'000;
    for (int i = 0; i < 6; ++i) {
      v += (i % 3 - 1) * 0.1;
      b.agg.add(b.bucket_ms + i * 10'000, std::round(v * 10) / 10);
    }
    if (m == 17) b.agg.sum = Lim::quiet_NaN();
    if (m == 30) b.agg.min = -0.0;
    buckets.push_back(b);
  }
  std::string block = encode_rollups(buckets);
  std::vector<RollupBucket> back;
  decode_rollups(block, back);
  ASSERT_EQ(back.size(), buckets.size());
  for (size_t i = 0; i < back.size(); ++i) {
    EXPECT_EQ(back[i].bucket_ms, buckets[i].bucket_ms);
    EXPECT_EQ(back[i].agg.n, buckets[i].agg.n);
    EXPECT_EQ(bits(back[i].agg.sum), bits(buckets[i].agg.sum)) << i;
    EXPECT_EQ(bits(back[i].agg.min), bits(buckets[i].agg.min)) << i;
    EXPECT_EQ(bits(back[i].agg.max), bits(buckets[i].agg.max)) << i;
    EXPECT_EQ(bits(back[i].agg.last), bits(buckets[i].agg.last)) << i;
    EXPECT_EQ(back[i].agg.last_ts_ms, buckets[i].agg.last_ts_ms);
  }
  // 60 buckets of 6 one-decimal samples, one NaN sum, one -0.0: a few bytes a bucket, not
  // the 48 of plain numbers.
  EXPECT_LT(block.size(), 60u * 4) << block.size();
}

TEST(BlockFormat, RegularTelemetryCostsAFewBitsASample) {
  std::vector<int64_t> ts;
  std::vector<double> vals;
  std::mt19937_64 rng(7);
  double temp = 55;
  for (int i = 0; i < 360; ++i) {
    ts.push_back(1'700'000'000'000 + i * 10'000);
    temp += static_cast<double>(static_cast<int>(rng() % 7) - 3) / 10;
    vals.push_back(std::round(temp * 10) / 10);
  }
  std::string block = encode_samples(ts, vals);
  // Steps of at most 0.3 zigzag into 3 bits; regular times into nothing.
  EXPECT_LE(block.size(), 360u * 3 / 8 + 32) << block.size();
}

TEST(BlockFormat, EveryTruncationOrBadByteIsAnErrorNamingTheOffset) {
  std::vector<int64_t> ts = {1000, 2000, 3000, 4500};
  std::vector<double> vals = {1.5, Lim::quiet_NaN(), 2.25, -3};
  std::string block = encode_samples(ts, vals);
  for (size_t cut = 0; cut < block.size(); ++cut) {
    std::vector<int64_t> t;
    std::vector<double> v;
    try {
      decode_samples(std::string_view(block).substr(0, cut), t, v);
      ADD_FAILURE() << "a block cut at " << cut << " decoded";
    } catch (const CorruptBlock& e) {
      EXPECT_NE(std::string(e.what()).find("at byte "), std::string::npos) << e.what();
    }
  }
  auto fails = [](std::string b, const char* what) {
    std::vector<int64_t> t;
    std::vector<double> v;
    try {
      decode_samples(b, t, v);
      ADD_FAILURE() << "decoded: " << what;
    } catch (const CorruptBlock& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  fails(block + "x", "trailing bytes");
  fails(std::string(1, '\x09') + block.substr(1), "unknown sample block version 9");
  fails(std::string("\x01\xff\xff\xff\xff\x7f", 6), "over the limit");
  fails(std::string("\x01\x80\x80\x20", 4), "cannot fit");
  fails(std::string("\x01\x02\x07", 3), "unknown integer column order 7");
  fails(std::string("\x01\x02\x01\x00\x00\x10\x00\x00", 8), "decimals 16 over 15");
  fails(std::string("\x02\x02\x01\x00\x41", 5),
        "a run of 2 zero blocks past the column's 1 values");
  fails(std::string("\x02\x41\x01\x00\x41\x00", 6),
        "a run of 2 zero blocks past the column's 64 values");
  const std::string times = std::string("\x01\x02\x01\x00\x00", 5);  // two times, both 0
  const std::string zeros = std::string("\x00\x01\x00\x00", 4);      // k 0, mantissas 0
  fails(times + zeros + "\x03", "unknown residual layout 3");
  fails(times + zeros + std::string("\x02\x03", 2), "residual list of 3");
  fails(times + zeros + std::string("\x02\x00", 2), "residual list of 0");
  fails(times + zeros + std::string("\x02\x01\x05\x01", 4), "past the last value");
  fails(times + zeros + std::string("\x02\x02\x01\x01\x00\x01", 6), "listed twice");
  fails(std::string("\x01\x01\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 14), "varint");
}

// Runs of zero blocks: every length around the block and run boundaries comes back, a run
// costs one byte, and zeros between other values stay where they were.
TEST(BlockFormat, RunsOfZeroBlocksRoundTripAtEveryBoundary) {
  for (size_t n :
       {size_t{1}, size_t{63}, size_t{64}, size_t{65}, size_t{128}, size_t{129}, size_t{4095},
        size_t{4096}, size_t{4097}, size_t{8192}, size_t{8193 + 64}, size_t{300000}}) {
    for (int shape = 0; shape < 3; ++shape) {
      std::vector<uint64_t> v(n, 0);
      if (shape == 1) v[n / 2] = 5;  // a value in the middle breaks the run
      if (shape == 2) v.back() = uint64_t{1} << 63;
      std::string out;
      ByteWriter w(out);
      w.packed(v);
      EXPECT_EQ(out.size(), packed_size(v)) << n << " shape " << shape;
      if (shape == 0) {
        EXPECT_LE(out.size(), (n + 4095) / 4096 + 1) << n;
      }
      ByteReader r(out);
      std::vector<uint64_t> back;
      r.packed(n, back);
      EXPECT_TRUE(r.done()) << n;
      ASSERT_EQ(back, v) << n << " shape " << shape;
    }
  }
  // A day of regular times with a constant value: a few bytes, not a byte per 64 samples.
  std::vector<int64_t> ts;
  std::vector<double> vals;
  for (int i = 0; i < 8640; ++i) {
    ts.push_back(1767225600000 + int64_t{i} * 10000);
    vals.push_back(1755);
  }
  std::string block = encode_samples(ts, vals);
  EXPECT_LE(block.size(), 40u);
  expect_samples_round_trip(ts, vals);
}

// Version 1 blocks (no zero runs) are still read: the previous format's bytes are this
// format's with another version byte.
TEST(BlockFormat, VersionOneBlocksAreStillRead) {
  std::vector<int64_t> ts = {1000, 2000, 3500};
  std::vector<double> vals = {1.5, 2.5, -1};
  std::string block = encode_samples(ts, vals);
  ASSERT_EQ(block[0], '\x02');
  block[0] = '\x01';
  std::vector<int64_t> t;
  std::vector<double> v;
  decode_samples(block, t, v);
  EXPECT_EQ(t, ts);
  EXPECT_EQ(v, vals);
}

TEST(BlockFormat, TimesAndValuesOfDifferentLengthsAreRefused) {
  EXPECT_THROW(encode_samples({1, 2}, {1.0}), std::invalid_argument);
}

}  // namespace
}  // namespace metricsd
