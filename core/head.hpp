// Head: the samples of every series that are still in the inbox (committed, not yet
// compacted), in memory and sorted by time, plus each series' latest value (kept after
// its samples are compacted). Recent queries, `latest` and stream snapshots read it.
// Filled after each commit, emptied as compaction moves samples into chunks, rebuilt
// from the inbox at start. Sharded by series id; each shard has one shared mutex.
// A series' samples are sealed, kSealSamples at a time, into blocks of the stored format
// (core/block_format: about 2 bytes a sample with the block's bookkeeping, against 16 as
// plain pairs); only the newest, unsealed ones are plain.
//
// Threads: append() from the committing thread (the CommitFanout's "head" consumer: the
// writer thread, or a storage thread for a heartbeat); remove() from the compaction's
// storage thread; erase() from a series deletion's storage thread; seal_open() from the
// maintenance loop's storage thread; clear()/note_latest() from the database start-up
// thread while the daemon is not ready; range()/latest() from io threads (cache hits,
// latest, stream snapshots) and read-pool threads. Each shard's map is guarded by its
// mutex; samples_ and tiers_gen_ are atomics; see tiers_mutex() for the read/compaction
// protocol.
#pragma once

#include <atomic>
#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

namespace metricsd {

struct ChunkRow;

class Head {
 public:
  struct Point {
    int64_t ts_ms;
    double value;
  };

  Head();

  // Adds committed samples (parallel arrays). They stay plain until seal_open().
  void append(const std::vector<int64_t>& series, const std::vector<int64_t>& ts,
              const std::vector<double>& values);
  // Removes the samples a compaction moved into these chunks (matched by time and value).
  void remove(const std::vector<ChunkRow>& chunks);
  // A series deletion (storage/series_delete): removes the series' samples in [from, to).
  // Where its latest value lay in that range, the latest becomes the newest sample left in
  // the head or `stored_latest` (the newest left in storage), whichever is newer, or none;
  // a series left with neither samples nor a latest value is forgotten. Returns the
  // samples removed.
  size_t erase(int64_t series, int64_t from_ms, int64_t to_ms, std::optional<Point> stored_latest);
  // Seals every series' plain samples that fill blocks (kSealSamples each); returns how
  // many. Encoding takes about 100 ns a sample: called every second off the committing
  // thread (the maintenance loop, on a storage thread), it keeps the writer free of it.
  size_t seal_open();
  // Forgets everything (before a rebuild).
  void clear();
  // Records a latest value known from storage (start-up), if newer than what is held.
  void note_latest(int64_t series, Point p);

  // Samples of the series in [from, to), sorted by time.
  std::vector<Point> range(int64_t series, int64_t from_ms, int64_t to_ms) const;
  std::optional<Point> latest(int64_t series) const;

  size_t samples() const { return samples_.load(std::memory_order_relaxed); }
  size_t series() const;
  // Bytes the held samples take (sealed blocks and plain points, with their containers'
  // spare capacity); walks every series under its shard's lock.
  size_t bytes() const;

  static constexpr size_t kSealSamples = 64;
  // Plain samples of one series beyond which append() seals them itself.
  static constexpr size_t kSealInline = 16 * kSealSamples;

  // Held shared by a read that combines stored tiers with the head, and exclusively by a
  // compaction while it commits and removes what it moved, so that a read counts every
  // sample exactly once. Taken on storage threads only (it may wait).
  std::shared_mutex& tiers_mutex() const { return tiers_mu_; }
  // Odd while a compaction moves samples between the tiers and the head (it changes both
  // ways under tiers_mutex): a read that takes no tiers_mutex is exact only if it saw the
  // same even value before and after.
  uint64_t tiers_generation() const { return tiers_gen_.load(); }
  void begin_tiers_change() { tiers_gen_.fetch_add(1); }
  void end_tiers_change() { tiers_gen_.fetch_add(1); }

 private:
  // A series' samples in time order are `sealed` then `open` (equal times keep append
  // order). A sample older than the series' newest goes to `late` (appended, unsorted)
  // instead of being inserted, which would move or re-encode everything after it: a
  // backfill into a series with a full head would otherwise cost O(head) per sample.
  // `late` is merged in once it reaches a quarter of the series (amortised O(1) work per
  // sample), and before a removal; reads merge what they need from it.
  struct Sealed {
    int64_t first_ts_ms, last_ts_ms;
    std::string block;  // encode_samples of its samples, in order
  };
  struct SeriesHead {
    std::vector<Sealed> sealed;  // consecutive runs of the ordered samples
    std::vector<Point> open;     // the newest ordered samples, fewer than kSealSamples
    std::vector<Point> late;     // each older than the newest ordered sample when it came
    std::optional<Point> latest;
    size_t ordered = 0;  // samples in sealed and open
  };
  static void merge_late(SeriesHead& h);
  // Seals the ordered `pts` as blocks of kSealSamples inserted at sealed[at] on; with
  // `all`, a shorter last block too. Returns how many points it sealed.
  static size_t seal(std::vector<Sealed>& sealed, size_t at, const std::vector<Point>& pts,
                     bool all);
  // Appends the sealed block's samples.
  static void unseal(const Sealed& s, std::vector<Point>& out);
  // Seals the open samples that fill blocks; the rest stay open.
  static void seal_prefix(SeriesHead& h);
  // Makes `rest` (fewer than kSealSamples, ordered) the series' open samples.
  static void reopen(SeriesHead& h, std::vector<Point>::const_iterator from,
                     std::vector<Point>::const_iterator to);
  struct Shard {
    mutable std::shared_mutex mu;  // guards map
    boost::unordered_flat_map<int64_t, SeriesHead> map;
  };
  static constexpr size_t kShards = 16;
  Shard& shard(int64_t series) { return shards_[static_cast<uint64_t>(series) % kShards]; }
  const Shard& shard(int64_t series) const {
    return shards_[static_cast<uint64_t>(series) % kShards];
  }

  std::unique_ptr<Shard[]> shards_;  // kShards, constant after construction
  mutable std::shared_mutex tiers_mu_;
  std::atomic<uint64_t> tiers_gen_{0};
  std::atomic<size_t> samples_{0};
};

}  // namespace metricsd
