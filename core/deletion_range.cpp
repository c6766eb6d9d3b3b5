// Deletion ranges and cut rollup buckets; see deletion_range.hpp.
#include "core/deletion_range.hpp"

namespace metricsd {

DeletionRange::Cover DeletionRange::cover(int64_t bucket_ms, int64_t width_ms) const {
  const int64_t end = bucket_ms + width_ms;
  if (end <= from_ms || bucket_ms >= to_ms) return Cover::kNone;
  if (bucket_ms >= from_ms && end <= to_ms) return Cover::kWhole;
  return Cover::kCut;
}

DeletionRange::Span DeletionRange::first_cut_hour() const {
  const int64_t lo = floor_to(from_ms, kHourMs);
  if (lo == from_ms) return {from_ms, from_ms};
  return {lo, lo + kHourMs};
}

DeletionRange::Span DeletionRange::last_cut_hour() const {
  const int64_t lo = floor_to(to_ms, kHourMs);
  if (lo == to_ms) return {to_ms, to_ms};
  return {lo, lo + kHourMs};
}

DeletionRange::Span DeletionRange::with_cut_hours() const {
  return {floor_to(from_ms, kHourMs), last_cut_hour().hi};
}

void CutBuckets::raw(int64_t series, int64_t ts_ms, double value) {
  for (int64_t width : {kMinuteMs, kHourMs}) {
    const int64_t bucket = floor_to(ts_ms, width);
    if (range_.cover(bucket, width) != DeletionRange::Cover::kCut) continue;
    Raw& r = raw_[{series, width, bucket}];
    ++r.all;
    if (!range_.contains(ts_ms)) r.kept.add(ts_ms, value);
  }
}

std::optional<Aggregate> CutBuckets::replacement(int64_t series, int64_t width_ms,
                                                 int64_t bucket_ms, const Aggregate& stored) const {
  auto it = raw_.find({series, width_ms, bucket_ms});
  if (it == raw_.end() || it->second.all != stored.n || it->second.kept.n == 0) return std::nullopt;
  return it->second.kept;
}

}  // namespace metricsd
