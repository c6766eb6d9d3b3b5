// What a series deletion (POST /api/v1/admin/series/delete) takes from each stored tier,
// as arithmetic: the time range [from, to) of the samples that go, and what becomes of the
// rollup buckets it covers. A bucket wholly inside the range goes. A bucket the range cuts
// (partly inside: only the one holding `from` and the one holding `to`, per width) is
// recomputed from the raw samples left in it when the raw tier still holds every sample
// the bucket summarised (its count equals theirs), and removed otherwise (raw retention
// dropped some of them, so no exact recomputation exists). Pure logic; the storage code
// (storage/block_delete) feeds it the stored samples and buckets.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <tuple>

#include "core/compaction.hpp"

namespace metricsd {

struct DeletionRange {
  // Bounds of a deletion without a time range: beyond every time the API accepts, whole
  // days, with room to subtract a day without overflow.
  static constexpr int64_t kEndMs = 50'000'000'000 * kDayMs, kFirstMs = -kEndMs;
  int64_t from_ms = kFirstMs, to_ms = kEndMs;

  bool whole() const { return from_ms == kFirstMs && to_ms == kEndMs; }
  bool contains(int64_t ts_ms) const { return ts_ms >= from_ms && ts_ms < to_ms; }
  enum class Cover { kNone, kWhole, kCut };
  // How the range covers the bucket [bucket_ms, bucket_ms + width_ms).
  Cover cover(int64_t bucket_ms, int64_t width_ms) const;
  // The hours holding a cut bucket of either width: [from rounded down to the hour, +1 h)
  // unless `from` is on the hour, the same for `to`; an absent one is the empty [x, x) at
  // the range's end. Raw samples there decide the cut buckets.
  struct Span {
    int64_t lo, hi;
  };
  Span first_cut_hour() const;
  Span last_cut_hour() const;
  // [first_cut_hour().lo, last_cut_hour().hi) or the range itself: every raw sample that
  // goes or decides a cut bucket lies here.
  Span with_cut_hours() const;
};

// The raw samples of the cut buckets, and the buckets to store in their place.
class CutBuckets {
 public:
  explicit CutBuckets(const DeletionRange& r) : range_(r) {}
  // A raw stored sample (compacted: in a sample block or a chunk) of the series, before the
  // deletion; counted in each cut bucket holding it, and aggregated if it stays.
  void raw(int64_t series, int64_t ts_ms, double value);
  // What replaces a cut bucket of the series whose stored parts (merged) are `stored`:
  // the aggregate of the raw samples left when the raw tier held all `stored.n`, nothing
  // when none are left or some were missing.
  std::optional<Aggregate> replacement(int64_t series, int64_t width_ms, int64_t bucket_ms,
                                       const Aggregate& stored) const;

 private:
  struct Raw {
    int64_t all = 0;  // raw samples in the bucket before the deletion
    Aggregate kept;   // those that stay
  };
  const DeletionRange range_;
  std::map<std::tuple<int64_t, int64_t, int64_t>, Raw> raw_;  // (series, width, bucket)
};

}  // namespace metricsd
