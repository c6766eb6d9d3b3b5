// The PL/pgSQL decoder of sample blocks (migrations/0004, 0005) against the C++ encoder, in the
// daemon's own PostgreSQL: the same times and the same IEEE bits for every value the
// format meets (decimals, Rice-coded and bit-packed streams, deltas of deltas, listed and
// packed residuals, runs of zero blocks, NaN, ±Inf, -0.0, denormals, the 64-bit escape), and
// a corrupt block is an error naming the byte, never a wrong row.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <bit>
#include <cmath>
#include <limits>
#include <pqxx/pqxx>
#include <random>

#include "core/block_format.hpp"
#include "harness.hpp"

namespace metricsd::test {
namespace {

using Lim = std::numeric_limits<double>;

class BlockSql : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    daemon_ = new Daemon(dir_->path(), {});
    ASSERT_TRUE(daemon_->wait_ready()) << daemon_->log();
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete dir_;
  }
  static std::string hex(const std::string& bytes) {
    std::string out;
    for (unsigned char c : bytes)
      out += fmt::format("{:02x}", c);
    return out;
  }
  // The block decoded by PostgreSQL: times and the hex of each value's IEEE bits.
  static pqxx::result decode(const std::string& block) {
    pqxx::connection c("host=" + dir_->path().string() +
                       "/run port=5432 user=postgres dbname=metricsd");
    pqxx::nontransaction tx(c);
    return tx.exec_params(
        "SELECT ts_ms, encode(float8send(value), 'hex') FROM "
        "metricsd_decode_samples(decode($1, 'hex'))",
        hex(block));
  }
  static void expect_same(const std::vector<int64_t>& ts, const std::vector<double>& vals) {
    auto rows = decode(encode_samples(ts, vals));
    ASSERT_EQ(rows.size(), ts.size());
    for (size_t i = 0; i < ts.size(); ++i) {
      EXPECT_EQ(rows[static_cast<int>(i)][0].as<int64_t>(), ts[i]) << i;
      uint64_t want = std::bit_cast<uint64_t>(vals[i]);
      // PostgreSQL has one NaN: a payload comes back as its NaN.
      if (std::isnan(vals[i])) continue;
      EXPECT_EQ(rows[static_cast<int>(i)][1].as<std::string>(), fmt::format("{:016x}", want))
          << "value " << i << " = " << vals[i];
    }
  }
  static TempDir* dir_;
  static Daemon* daemon_;
};
TempDir* BlockSql::dir_ = nullptr;
Daemon* BlockSql::daemon_ = nullptr;

TEST_F(BlockSql, AwkwardValuesAndTimesDecodeToTheSameBits) {
  std::vector<double> vals = {0.0,
                              -0.0,
                              Lim::infinity(),
                              -Lim::infinity(),
                              Lim::quiet_NaN(),
                              Lim::denorm_min(),
                              -Lim::denorm_min(),
                              Lim::min(),
                              Lim::max(),
                              Lim::lowest(),
                              0.1 + 0.2,
                              35.2,
                              -17.5,
                              1e300,
                              123456789.123456789};
  std::vector<int64_t> ts;
  for (size_t i = 0; i < vals.size(); ++i)
    ts.push_back(1'700'000'000'000 + static_cast<int64_t>(i) * 10'000);
  expect_same(ts, vals);
  const int64_t big = std::numeric_limits<int64_t>::max(),
                small = std::numeric_limits<int64_t>::min();
  expect_same({small, big, small, big}, {1, 2, 3, 4});  // deltas that wrap
  expect_same({7, 7, 7}, {1.5, 1.5, 1.5});
  expect_same({42}, {-0.0});
  expect_same({1, 5, 9, 200, 201, 90'000}, {0, 7, 1, 9, 2, 3});  // unsigned columns, no zigzag
  // Runs of zero blocks (version 2): 64-block runs, a shorter run, the short last block.
  ts.clear();
  vals.clear();
  for (int i = 0; i < 9000; ++i) {
    ts.push_back(1'767'225'600'000 + int64_t{i} * 10'000);
    vals.push_back(i < 4200 ? 1755 : 1980);
  }
  expect_same(ts, vals);
  // A version 1 block (no runs) still decodes.
  std::string v1 = encode_samples({1000, 2000, 3500}, {1.5, 2.5, -1});
  v1[0] = '\x01';
  EXPECT_EQ(decode(v1).size(), 3u);
}

TEST_F(BlockSql, TelemetryBlocksDecodeToTheSameBits) {
  std::mt19937_64 rng(5);
  for (int kind = 0; kind < 5; ++kind) {
    std::vector<int64_t> ts;
    std::vector<double> vals;
    double walk = 50;
    int64_t t = 1'767'225'600'000;
    for (int i = 0; i < 300; ++i) {
      t += kind == 3 ? static_cast<int64_t>(rng() % 100'000) : 10'000;
      ts.push_back(t);
      switch (kind) {
        case 0:
          walk += static_cast<double>(static_cast<int>(rng() % 7) - 3) / 10;
          break;
        case 1:
          walk += static_cast<double>(rng() % 2'000'000);
          break;  // a counter
        case 2:
          walk = std::bit_cast<double>(rng());
          break;  // any bits
        default:
          walk *= 1.001;  // float noise
      }
      vals.push_back(kind == 0 ? std::round(walk * 10) / 10 : walk);
      if (kind == 4 && i % 50 == 7) vals.back() = Lim::quiet_NaN();  // listed residuals
    }
    expect_same(ts, vals);
  }
}

TEST_F(BlockSql, CorruptBlocksAreErrorsNamingTheByte) {
  std::string good = encode_samples({1000, 2000}, {1.5, 2.5});
  for (const auto& [block, what] : std::vector<std::pair<std::string, std::string>>{
           {std::string("\x09", 1) + good.substr(1), "unknown sample block version 9"},
           {good + "x", "trailing bytes"},
           {good.substr(0, good.size() - 1), "out of valid range"},
           {std::string("\x01\x02\x07", 3), "unknown integer column order 7"},
           {std::string("\x02\x02\x01\x00\x41", 5), "a run of 2 zero blocks past the column's 1"},
       }) {
    try {
      decode(block);
      ADD_FAILURE() << "decoded: " << what;
    } catch (const pqxx::sql_error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace metricsd::test
