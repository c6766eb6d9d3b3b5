// libFuzzer target: the stored block format (core/block_format). The first byte picks
//   0: the rest as a sample block: it decodes or is a CorruptBlock, and what decodes
//      encodes and decodes again to the same bits;
//   1: the same for a rollup block;
//   2: the rest as (int64 time, double value) pairs: they encode and come back bit for bit.
// Besides crashes and sanitizer reports, any other exception or a changed bit traps.
// Built and run by tests/fuzz/run.sh.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "core/block_format.hpp"

namespace {

using namespace metricsd;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool same(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::bit_cast<uint64_t>(a[i]) != std::bit_cast<uint64_t>(b[i])) return false;
  return true;
}

void samples_round_trip(const std::vector<int64_t>& ts, const std::vector<double>& vals) {
  std::vector<int64_t> ts2;
  std::vector<double> vals2;
  decode_samples(encode_samples(ts, vals), ts2, vals2);
  check(ts2 == ts && same(vals2, vals));
}

void sample_block(std::string_view in) {
  std::vector<int64_t> ts;
  std::vector<double> vals;
  try {
    decode_samples(in, ts, vals);
  } catch (const CorruptBlock&) {
    return;
  }
  check(ts.size() == vals.size());
  samples_round_trip(ts, vals);
}

void rollup_block(std::string_view in) {
  std::vector<RollupBucket> buckets;
  try {
    decode_rollups(in, buckets);
  } catch (const CorruptBlock&) {
    return;
  }
  std::vector<RollupBucket> back;
  decode_rollups(encode_rollups(buckets), back);
  check(back.size() == buckets.size());
  for (size_t i = 0; i < back.size(); ++i) {
    const auto &a = back[i].agg, &b = buckets[i].agg;
    check(back[i].bucket_ms == buckets[i].bucket_ms && a.n == b.n && a.last_ts_ms == b.last_ts_ms &&
          same({a.sum, a.min, a.max, a.last}, {b.sum, b.min, b.max, b.last}));
  }
}

void raw_pairs(std::string_view in) {
  std::vector<int64_t> ts;
  std::vector<double> vals;
  for (size_t i = 0; i + 16 <= in.size(); i += 16) {
    int64_t t;
    double v;
    std::memcpy(&t, in.data() + i, 8);
    std::memcpy(&v, in.data() + i + 8, 8);
    ts.push_back(t);
    vals.push_back(v);
  }
  samples_round_trip(ts, vals);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      sample_block(rest);
      break;
    case 1:
      rollup_block(rest);
      break;
    default:
      raw_pairs(rest);
  }
  return 0;
}
