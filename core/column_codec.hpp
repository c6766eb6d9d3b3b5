// Columns of the stored sample format (docs/storage-format.md): a column of int64 is its
// first value and its deltas or deltas of deltas, bit-packed; a column of doubles is a
// decimal mantissa column (value ≈ m / 10^k, one k per column) plus, where that is not
// the value bit for bit, the difference of the IEEE bit patterns. Every double, NaN
// payloads, infinities, -0.0 and denormals included, comes back bit for bit; telemetry
// with a few decimals costs a few bits per value. Pure functions; the count of values is
// the caller's (a block stores it once for all its columns).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/byte_codec.hpp"

namespace metricsd {

inline constexpr int kMaxDecimals = 15;

// Written as the values themselves, their deltas or their deltas of deltas, whichever is
// smallest.
void encode_ints(ByteWriter& w, const std::vector<int64_t>& values);
void decode_ints(ByteReader& r, size_t count, std::vector<int64_t>& out);

// The decimals the column was written with are returned (0..kMaxDecimals); `hint`, if
// not negative, is tried as the column's decimals (a rollup's sums take their samples').
int encode_doubles(ByteWriter& w, const std::vector<double>& values, int hint = -1);
void decode_doubles(ByteReader& r, size_t count, std::vector<double>& out);

// The decimal pieces, for blocks that relate columns to each other (rollups).
// The double m / 10^k stands for (correctly rounded; m * 1 for k = 0).
double decimal_value(int64_t m, int k);
// The m nearest to v * 10^k, if |v * 10^k| < 2^53 (and v is not NaN).
std::optional<int64_t> mantissa_near(double v, int k);
// The fewest decimals (0..kMaxDecimals) that give v back bit for bit, or -1.
int decimals_of(double v);
// bits(v) - bits(decimal_value(m, k)), wrapping, zigzagged: 0 when m / 10^k is v.
uint64_t residual_of(double v, int64_t m, int k);
double with_residual(int64_t m, int k, uint64_t residual);
// Residuals of a column: none (all 0), packed, or listed one by one, whichever is smallest.
// decode_residuals leaves `out` empty when all are 0.
void encode_residuals(ByteWriter& w, const std::vector<uint64_t>& residuals);
void decode_residuals(ByteReader& r, size_t count, std::vector<uint64_t>& out);

}  // namespace metricsd
