// Sample and rollup blocks; see block_format.hpp and docs/storage-format.md.
#include "core/block_format.hpp"

#include <algorithm>
#include <stdexcept>

#include "core/column_codec.hpp"

namespace metricsd {
namespace {

// Reads the header of a block: its version and how many values each column holds. Version
// 1 differs from 2 only in having no zero runs, so one reader takes both. A count beyond
// what the bytes could hold (a byte of a packed stream stands for at most a run of 64
// blocks of 64 values) is corrupt, so a bad count cannot make the reader allocate without
// bound.
size_t read_header(ByteReader& r, uint8_t version, std::string_view block, const char* what) {
  uint8_t v = r.u8();
  if (v < 1 || v > version)
    r.fail(std::string("unknown ") + what + " block version " + std::to_string(v));
  uint64_t count = r.uvarint();
  if (count > kMaxBlockValues) r.fail("count " + std::to_string(count) + " over the limit");
  if (count > (block.size() + 1) * kPackBlock * kZeroRunMax)
    r.fail("count " + std::to_string(count) + " cannot fit in " + std::to_string(block.size()) +
           " bytes");
  return static_cast<size_t>(count);
}

void expect_end(const ByteReader& r) {
  if (!r.done()) r.fail("trailing bytes after the last column");
}

}  // namespace

std::string encode_samples(const std::vector<int64_t>& ts_ms, const std::vector<double>& values) {
  if (ts_ms.size() != values.size())
    throw std::invalid_argument("sample block: times and values differ in length");
  if (ts_ms.size() > kMaxBlockValues) throw std::invalid_argument("sample block: too many values");
  std::string out;
  out.reserve(16 + ts_ms.size());
  ByteWriter w(out);
  w.u8(kSampleBlockVersion);
  w.uvarint(ts_ms.size());
  encode_ints(w, ts_ms);
  encode_doubles(w, values);
  return out;
}

void decode_samples(std::string_view block, std::vector<int64_t>& ts_ms,
                    std::vector<double>& values) {
  ByteReader r(block);
  size_t n = read_header(r, kSampleBlockVersion, block, "sample");
  decode_ints(r, n, ts_ms);
  decode_doubles(r, n, values);
  expect_end(r);
}

namespace {

constexpr uint8_t kRollupColumns = 0, kRollupDecimals = 1;

struct RollupColumns {
  std::vector<int64_t> start, n, last_ts;
  std::vector<double> sum, min, max, last;
};

// Wrapping arithmetic on mantissas: the decoder undoes exactly what the encoder did, and a
// corrupt block gives wrong numbers, never undefined ones.
int64_t wrap_add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
int64_t wrap_sub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int64_t wrap_mul(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}

// How the min and sum columns are predicted from the others (docs/storage-format.md); the
// encoder keeps whichever form is smallest for the block.
enum MinForm : uint8_t { kBelowLast = 0, kAbovePreviousLast = 1 };
enum SumForm : uint8_t {
  kSumMinusNLast = 0,
  kTwiceSumMinusNMinMax = 1,
  kTwiceSumMinusNMinLast = 2
};

int64_t predict_min(uint8_t form, const std::vector<int64_t>& last, size_t i, int64_t stored) {
  return form == kBelowLast ? wrap_sub(last[i], stored)
                            : wrap_add(last[i == 0 ? 0 : i - 1], stored);
}
int64_t min_column_value(uint8_t form, const std::vector<int64_t>& last, size_t i, int64_t min) {
  return form == kBelowLast ? wrap_sub(last[i], min) : wrap_sub(min, last[i == 0 ? 0 : i - 1]);
}
// What the sum column holds for sum s, and s back from it.
int64_t sum_column_value(uint8_t form, int64_t s, int64_t n, int64_t mn, int64_t mx, int64_t ml) {
  switch (form) {
    case kSumMinusNLast:
      return wrap_sub(s, wrap_mul(n, ml));
    case kTwiceSumMinusNMinMax:
      return wrap_sub(wrap_mul(2, s), wrap_mul(n, wrap_add(mn, mx)));
    default:
      return wrap_sub(wrap_mul(2, s), wrap_mul(n, wrap_add(mn, ml)));
  }
}
// Twice the sum (or the sum, for kSumMinusNLast) is known modulo 2^64 only: the encoder
// checks that halving gives the sum back, else it does not use a doubled form.
int64_t sum_from_column(uint8_t form, int64_t v, int64_t n, int64_t mn, int64_t mx, int64_t ml) {
  switch (form) {
    case kSumMinusNLast:
      return wrap_add(v, wrap_mul(n, ml));
    case kTwiceSumMinusNMinMax:
      return wrap_add(v, wrap_mul(n, wrap_add(mn, mx))) / 2;
    default:
      return wrap_add(v, wrap_mul(n, wrap_add(mn, ml))) / 2;
  }
}

size_t ints_size(const std::vector<int64_t>& v) {
  std::string s;
  ByteWriter w(s);
  encode_ints(w, v);
  return s.size();
}

// Decimal layout: when min, max and last are all decimals with at most k digits after the
// point, the columns are mantissas related to each other: last; max - last (zero for a
// counter); min below last or above the previous bucket's last (one step for a counter);
// the sum against n times last or n times the middle of the bucket's range; the sum's
// float rounding in residuals. Returns false (writing nothing) when the block is not like
// that.
bool encode_decimal_rollups(ByteWriter& w, const RollupColumns& c) {
  int k = 0;
  for (const auto* col : {&c.min, &c.max, &c.last})
    for (double v : *col) {
      int d = decimals_of(v);
      if (d < 0) return false;
      k = std::max(k, d);
    }
  const size_t count = c.last.size();
  std::vector<int64_t> last, max, min, sum;
  std::vector<uint64_t> sum_residuals;
  for (size_t i = 0; i < count; ++i) {
    auto ml = mantissa_near(c.last[i], k), mx = mantissa_near(c.max[i], k),
         mn = mantissa_near(c.min[i], k), ms = mantissa_near(c.sum[i], k);
    if (!ml || !mx || !mn || !ms) return false;
    // Exact by the choice of k; checked so that a surprise costs space, never a value.
    if (residual_of(c.last[i], *ml, k) || residual_of(c.max[i], *mx, k) ||
        residual_of(c.min[i], *mn, k))
      return false;
    last.push_back(*ml);
    max.push_back(*mx);
    min.push_back(*mn);
    sum.push_back(*ms);
    sum_residuals.push_back(residual_of(c.sum[i], *ms, k));
  }
  std::vector<int64_t> above(count), below[2], sum_col[3];
  for (size_t i = 0; i < count; ++i) {
    above[i] = wrap_sub(max[i], last[i]);
    for (uint8_t f : {kBelowLast, kAbovePreviousLast})
      below[f].push_back(min_column_value(f, last, i, min[i]));
    for (uint8_t f : {kSumMinusNLast, kTwiceSumMinusNMinMax, kTwiceSumMinusNMinLast})
      sum_col[f].push_back(sum_column_value(f, sum[i], c.n[i], min[i], max[i], last[i]));
  }
  uint8_t min_form = ints_size(below[1]) < ints_size(below[0]) ? kAbovePreviousLast : kBelowLast;
  uint8_t sum_form = kSumMinusNLast;
  size_t best = ints_size(sum_col[kSumMinusNLast]);
  for (uint8_t f : {kTwiceSumMinusNMinMax, kTwiceSumMinusNMinLast}) {
    bool exact = true;
    for (size_t i = 0; i < count && exact; ++i)
      exact = sum_from_column(f, sum_col[f][i], c.n[i], min[i], max[i], last[i]) == sum[i];
    size_t size = exact ? ints_size(sum_col[f]) : SIZE_MAX;
    if (size < best) {
      best = size;
      sum_form = f;
    }
  }
  w.u8(kRollupDecimals);
  w.u8(static_cast<uint8_t>(k));
  encode_ints(w, last);
  encode_ints(w, above);
  w.u8(min_form);
  encode_ints(w, below[min_form]);
  w.u8(sum_form);
  encode_ints(w, sum_col[sum_form]);
  encode_residuals(w, sum_residuals);
  return true;
}

void decode_decimal_rollups(ByteReader& r, size_t count, RollupColumns& c) {
  int k = r.u8();
  if (k > kMaxDecimals) r.fail("decimals " + std::to_string(k) + " over 15");
  std::vector<int64_t> last, above, below, sum_col;
  std::vector<uint64_t> sum_residuals;
  decode_ints(r, count, last);
  decode_ints(r, count, above);
  uint8_t min_form = r.u8();
  if (min_form > kAbovePreviousLast) r.fail("unknown min form " + std::to_string(min_form));
  decode_ints(r, count, below);
  uint8_t sum_form = r.u8();
  if (sum_form > kTwiceSumMinusNMinLast) r.fail("unknown sum form " + std::to_string(sum_form));
  decode_ints(r, count, sum_col);
  decode_residuals(r, count, sum_residuals);
  for (size_t i = 0; i < count; ++i) {
    int64_t mx = wrap_add(last[i], above[i]);
    int64_t mn = predict_min(min_form, last, i, below[i]);
    int64_t ms = sum_from_column(sum_form, sum_col[i], c.n[i], mn, mx, last[i]);
    c.last.push_back(decimal_value(last[i], k));
    c.max.push_back(decimal_value(mx, k));
    c.min.push_back(decimal_value(mn, k));
    c.sum.push_back(sum_residuals.empty() ? decimal_value(ms, k)
                                          : with_residual(ms, k, sum_residuals[i]));
  }
}

}  // namespace

std::string encode_rollups(const std::vector<RollupBucket>& buckets) {
  if (buckets.size() > kMaxBlockValues)
    throw std::invalid_argument("rollup block: too many buckets");
  RollupColumns c;
  for (const auto& b : buckets) {
    c.start.push_back(b.bucket_ms);
    c.n.push_back(b.agg.n);
    c.sum.push_back(b.agg.sum);
    c.min.push_back(b.agg.min);
    c.max.push_back(b.agg.max);
    c.last.push_back(b.agg.last);
    c.last_ts.push_back(b.agg.last_ts_ms);
  }
  std::string out;
  ByteWriter w(out);
  w.u8(kRollupBlockVersion);
  w.uvarint(buckets.size());
  encode_ints(w, c.start);
  encode_ints(w, c.n);
  if (!buckets.empty() && !encode_decimal_rollups(w, c)) {
    w.u8(kRollupColumns);
    int decimals = encode_doubles(w, c.min);
    decimals = std::max(decimals, encode_doubles(w, c.max));
    decimals = std::max(decimals, encode_doubles(w, c.last));
    // Sums of decimals are near decimals with as many digits: the samples' decimals keep
    // the float rounding noise in a few low residual bits.
    encode_doubles(w, c.sum, decimals);
  }
  encode_ints(w, c.last_ts);
  return out;
}

void decode_rollups(std::string_view block, std::vector<RollupBucket>& out) {
  ByteReader r(block);
  size_t count = read_header(r, kRollupBlockVersion, block, "rollup");
  RollupColumns c;
  decode_ints(r, count, c.start);
  decode_ints(r, count, c.n);
  if (count > 0) {
    uint8_t layout = r.u8();
    if (layout == kRollupDecimals) {
      decode_decimal_rollups(r, count, c);
    } else if (layout == kRollupColumns) {
      decode_doubles(r, count, c.min);
      decode_doubles(r, count, c.max);
      decode_doubles(r, count, c.last);
      decode_doubles(r, count, c.sum);
    } else {
      r.fail("unknown rollup layout " + std::to_string(layout));
    }
  }
  decode_ints(r, count, c.last_ts);
  expect_end(r);
  out.reserve(out.size() + count);
  for (size_t i = 0; i < count; ++i) {
    RollupBucket b;
    b.bucket_ms = c.start[i];
    b.agg.n = c.n[i];
    b.agg.sum = c.sum[i];
    b.agg.min = c.min[i];
    b.agg.max = c.max[i];
    b.agg.last = c.last[i];
    b.agg.last_ts_ms = c.last_ts[i];
    out.push_back(b);
  }
}

}  // namespace metricsd
