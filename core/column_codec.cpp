// Integer and double columns; see column_codec.hpp and docs/storage-format.md.
#include "core/column_codec.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <string>

namespace metricsd {
namespace {

constexpr uint8_t kPlain = 0, kDelta = 1, kDeltaOfDelta = 2;
// Without zigzag, which spends a bit on a sign that never changes: non-negative values
// (max - last of a rollup) and non-decreasing columns (counters, times).
constexpr uint8_t kPlainUnsigned = 3, kDeltaUnsigned = 4;
constexpr uint8_t kNoResiduals = 0, kPackedResiduals = 1, kListedResiduals = 2;
constexpr double kPow10[kMaxDecimals + 1] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                             1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
constexpr double kTwo53 = 9007199254740992.0;

uint64_t bits(double v) {
  return std::bit_cast<uint64_t>(v);
}

// Wrapping differences: every int64 column round-trips, overflow included.
int64_t minus(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int64_t plus(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

size_t uvarint_size(uint64_t v) {
  return static_cast<size_t>(bit_width_of(v | 1) + 6) / 7;
}

}  // namespace

double decimal_value(int64_t m, int k) {
  // Both operands are exact doubles when |m| < 2^53, so IEEE division rounds the true
  // quotient once: the value itself whenever it is the double nearest to a decimal with k
  // digits after the point.
  return k == 0 ? static_cast<double>(m) : static_cast<double>(m) / kPow10[k];
}

std::optional<int64_t> mantissa_near(double v, int k) {
  double s = v * kPow10[k];
  if (!(std::fabs(s) < kTwo53)) return std::nullopt;  // NaN fails too
  return std::llround(s);
}

int decimals_of(double v) {
  for (int k = 0; k <= kMaxDecimals; ++k) {
    auto m = mantissa_near(v, k);
    if (!m) return -1;
    if (bits(decimal_value(*m, k)) == bits(v)) return k;
  }
  return -1;
}

uint64_t residual_of(double v, int64_t m, int k) {
  return zigzag(static_cast<int64_t>(bits(v) - bits(decimal_value(m, k))));
}

double with_residual(int64_t m, int k, uint64_t residual) {
  return std::bit_cast<double>(bits(decimal_value(m, k)) +
                               static_cast<uint64_t>(unzigzag(residual)));
}

void encode_ints(ByteWriter& w, const std::vector<int64_t>& values) {
  if (values.empty()) return;
  std::vector<uint64_t> d0, d1, d2;
  d0.reserve(values.size());
  d1.reserve(values.size());
  d2.reserve(values.size());
  bool non_negative = true, non_decreasing = true;
  for (size_t i = 1; i < values.size(); ++i) {
    int64_t delta = minus(values[i], values[i - 1]);
    non_negative = non_negative && values[i] >= 0;
    non_decreasing = non_decreasing && values[i] >= values[i - 1];
    d0.push_back(zigzag(values[i]));
    d1.push_back(zigzag(delta));
    if (i >= 2) d2.push_back(zigzag(minus(delta, minus(values[i - 1], values[i - 2]))));
  }
  // Each order's values, ready to pack; the unsigned ones replace their zigzagged twins.
  if (non_negative)
    for (size_t i = 1; i < values.size(); ++i)
      d0[i - 1] = static_cast<uint64_t>(values[i]);
  if (non_decreasing)
    for (size_t i = 1; i < values.size(); ++i)
      d1[i - 1] = static_cast<uint64_t>(minus(values[i], values[i - 1]));
  size_t plain = packed_size(d0), delta = packed_size(d1);
  size_t second = values.size() >= 3
                      ? uvarint_size(zigzag(minus(values[1], values[0]))) + packed_size(d2)
                      : SIZE_MAX;
  uint8_t order = plain <= delta && plain <= second ? (non_negative ? kPlainUnsigned : kPlain)
                  : delta <= second                 ? (non_decreasing ? kDeltaUnsigned : kDelta)
                                                    : kDeltaOfDelta;
  w.u8(order);
  w.svarint(values[0]);
  if (order == kPlain || order == kPlainUnsigned) {
    w.packed(d0);
  } else if (order == kDelta || order == kDeltaUnsigned) {
    w.packed(d1);
  } else {
    w.uvarint(zigzag(minus(values[1], values[0])));
    w.packed(d2);
  }
}

void decode_ints(ByteReader& r, size_t count, std::vector<int64_t>& out) {
  if (count == 0) return;
  uint8_t order = r.u8();
  if (order > kDeltaUnsigned) r.fail("unknown integer column order " + std::to_string(order));
  int64_t v = r.svarint();
  out.push_back(v);
  if (count == 1) return;
  std::vector<uint64_t> d;
  if (order != kDeltaOfDelta) {
    r.packed(count - 1, d);
    for (uint64_t z : d) {
      switch (order) {
        case kPlain:
          v = unzigzag(z);
          break;
        case kPlainUnsigned:
          v = static_cast<int64_t>(z);
          break;
        case kDelta:
          v = plus(v, unzigzag(z));
          break;
        default:
          v = plus(v, static_cast<int64_t>(z));
      }
      out.push_back(v);
    }
    return;
  }
  int64_t delta = r.svarint();
  out.push_back(v = plus(v, delta));
  r.packed(count - 2, d);
  for (uint64_t z : d) {
    delta = plus(delta, unzigzag(z));
    out.push_back(v = plus(v, delta));
  }
}

void encode_residuals(ByteWriter& w, const std::vector<uint64_t>& residuals) {
  size_t nonzero = 0, listed = 0;
  for (size_t i = 0, last = 0; i < residuals.size(); ++i)
    if (residuals[i]) {
      ++nonzero;
      listed += uvarint_size(i - last) + uvarint_size(residuals[i]);
      last = i;
    }
  if (nonzero == 0) {
    w.u8(kNoResiduals);
    return;
  }
  // A few odd values (a NaN, a -0.0) among decimals are listed one by one, so they do not
  // widen a whole packed block of 64 to 64 bits.
  if (uvarint_size(nonzero) + listed >= packed_size(residuals)) {
    w.u8(kPackedResiduals);
    w.packed(residuals);
    return;
  }
  w.u8(kListedResiduals);
  w.uvarint(nonzero);
  for (size_t i = 0, last = 0; i < residuals.size(); ++i)
    if (residuals[i]) {
      w.uvarint(i - last);
      w.uvarint(residuals[i]);
      last = i;
    }
}

void decode_residuals(ByteReader& r, size_t count, std::vector<uint64_t>& out) {
  out.clear();
  uint8_t layout = r.u8();
  if (layout > kListedResiduals) r.fail("unknown residual layout " + std::to_string(layout));
  if (layout == kPackedResiduals) r.packed(count, out);
  if (layout != kListedResiduals) return;
  uint64_t listed = r.uvarint();
  if (listed == 0 || listed > count) r.fail("residual list of " + std::to_string(listed));
  out.assign(count, 0);
  size_t at = 0;
  for (uint64_t i = 0; i < listed; ++i) {
    uint64_t gap = r.uvarint();
    if (gap >= count - at) r.fail("residual index past the last value");
    if (i > 0 && gap == 0) r.fail("residual listed twice");
    at += static_cast<size_t>(gap);
    out[at] = r.uvarint();
  }
}

int encode_doubles(ByteWriter& w, const std::vector<double>& values, int hint) {
  if (values.empty()) return 0;
  int k = std::min(hint, kMaxDecimals);
  for (double v : values)
    k = std::max(k, decimals_of(v));
  k = std::max(k, 0);
  std::vector<int64_t> mantissas;
  std::vector<uint64_t> residuals;
  mantissas.reserve(values.size());
  residuals.reserve(values.size());
  int64_t prev = 0;
  for (double v : values) {
    // A value with no mantissa in range repeats the previous one, so the mantissa deltas
    // stay small and the residual carries it.
    int64_t m = mantissa_near(v, k).value_or(prev);
    mantissas.push_back(m);
    residuals.push_back(residual_of(v, m, k));
    prev = m;
  }
  w.u8(static_cast<uint8_t>(k));
  encode_ints(w, mantissas);
  encode_residuals(w, residuals);
  return k;
}

void decode_doubles(ByteReader& r, size_t count, std::vector<double>& out) {
  if (count == 0) return;
  int k = r.u8();
  if (k > kMaxDecimals) r.fail("decimals " + std::to_string(k) + " over 15");
  std::vector<int64_t> m;
  decode_ints(r, count, m);
  std::vector<uint64_t> res;
  decode_residuals(r, count, res);
  out.reserve(out.size() + count);
  for (size_t i = 0; i < count; ++i)
    out.push_back(res.empty() ? decimal_value(m[i], k) : with_residual(m[i], k, res[i]));
}

}  // namespace metricsd
