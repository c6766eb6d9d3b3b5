// Background storage jobs; see maintenance.hpp.
#include "server/maintenance.hpp"

#include <malloc.h>

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/clock.hpp"
#include "core/time_parse.hpp"
#include "server/spawn.hpp"
#include "storage/block_merge.hpp"
#include "storage/compactor.hpp"

namespace metricsd::server {

namespace asio = boost::asio;

namespace {
constexpr int64_t kMaxSamplesPerPass = 500'000;
constexpr int kMaxPassesPerTick = 32;
constexpr auto kPartitionEvery = std::chrono::minutes(1);
// The head's plain samples wait at most this long to be sealed: at a million samples a
// second, a second's worth (16 MB) is plain at a time.
constexpr auto kSealEvery = std::chrono::seconds(1);
constexpr auto kMergeEvery = std::chrono::minutes(1);
// A merge pass holds the compaction lock while it encodes: bounded to keep that short.
constexpr int64_t kMaxMergeSamplesPerPass = 500'000;
}  // namespace

Maintenance::Maintenance(asio::io_context& ioc, storage::Database& db, Head& head, TierCache& cache,
                         const Settings& settings, const LiveSettings& live,
                         prom::Registry& metrics, const DiskWatermark* disk)
    : db_(db),
      head_(head),
      cache_(cache),
      settings_(settings),
      live_(live),
      disk_(disk),
      compact_conn_(db.conninfo()),
      timer_(ioc),
      seal_timer_(ioc),
      runs_(metrics.counter("metricsd_compaction_runs_total", "Compaction passes that moved data")
                .get()),
      samples_(metrics
                   .counter("metricsd_compaction_samples_total",
                            "Samples moved from the inbox into blocks and rollups")
                   .get()),
      duration_(metrics
                    .histogram("metricsd_compaction_duration_seconds",
                               "Time of one compaction pass", {}, prom::latency_bounds_seconds())
                    .get()),
      failures_(metrics.counter("metricsd_maintenance_failures_total",
                                "Background storage jobs that failed", {"job"})),
      dropped_(
          metrics.counter("metricsd_partitions_dropped_total", "Partitions dropped by retention")
              .get()),
      merged_series_(metrics
                         .counter("metricsd_block_merge_series_total",
                                  "Series whose closed day of blocks was merged into one")
                         .get()),
      merged_blocks_(
          metrics
              .counter("metricsd_block_merge_blocks_total", "Stored blocks read by block merging")
              .get()),
      packed_(metrics
                  .counter("metricsd_block_partitions_packed_total",
                           "Day partitions rewritten after their blocks were merged")
                  .get()),
      paused_(metrics.counter("metricsd_maintenance_paused_total",
                              "Background passes skipped because a watched disk is below "
                              "disk.min_free_bytes",
                              {"job"})) {}

void Maintenance::start() {
  spawn_logged(timer_.get_executor(), run(), "maintenance");
  spawn_logged(seal_timer_.get_executor(), seal_head(), "head sealing");
}

void Maintenance::stop() {
  stopping_ = true;
  asio::post(timer_.get_executor(), [this] {
    timer_.cancel();
    seal_timer_.cancel();
  });
}

asio::awaitable<void> Maintenance::seal_head() {
  while (!stopping_) {
    seal_timer_.expires_after(kSealEvery);
    co_await seal_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopping_) break;
    if (!db_.ready()) continue;  // the pool may be unusable; append() bounds the head then
    try {
      co_await db_.pool().run([this](pqxx::connection&) { return head_.seal_open(); });
    } catch (const std::exception& e) {
      failures_.with({"head_sealing"}).inc();
      spdlog::warn("head sealing failed (will retry): {}", e.what());
    }
  }
}

asio::awaitable<void> Maintenance::run() {
  auto next_partitions = std::chrono::steady_clock::now();
  auto next_merge = next_partitions;
  while (!stopping_) {
    timer_.expires_after(std::chrono::milliseconds(settings_.ingest_compaction_interval_ms));
    co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopping_) break;
    if (!db_.ready()) continue;
    if (std::chrono::steady_clock::now() >= next_partitions) {
      co_await partitions();
      next_partitions = std::chrono::steady_clock::now() + kPartitionEvery;
    }
    if (disk_full()) {
      paused_.with({"compaction"}).inc();
      paused_.with({"block_merge"}).inc();
      continue;
    }
    bool compacted = co_await compact();
    // Compaction of a closed day (late samples) makes merge work at once; else every minute.
    if (compacted || std::chrono::steady_clock::now() >= next_merge) {
      bool more = co_await merge_blocks();
      next_merge =
          more ? std::chrono::steady_clock::now() : std::chrono::steady_clock::now() + kMergeEvery;
    }
  }
}

asio::awaitable<bool> Maintenance::merge_blocks() {
  for (int pass = 0; pass < kMaxPassesPerTick && !stopping_ && !disk_full(); ++pass) {
    storage::MergeResult r;
    try {
      int64_t before = storage::closed_before(wall_ms(), settings_.ingest_compaction_grace_ms);
      r = co_await db_.pool().run([&](pqxx::connection&) {
        return storage::merge_closed_days(compact_conn_, before, kMaxMergeSamplesPerPass);
      });
    } catch (const std::exception& e) {
      failures_.with({"block_merge"}).inc();
      spdlog::warn("block merge failed (will retry): {}", e.what());
      co_return false;
    }
    merged_series_.inc(static_cast<double>(r.series));
    merged_blocks_.inc(static_cast<double>(r.blocks_in));
    if (r.series > 0)
      spdlog::debug("merged {} blocks of {} series into one a day", r.blocks_in, r.series);
    if (!r.packed.empty()) {
      packed_.inc();
      spdlog::info("block merge: rewrote the merged partition {}", r.packed);
    }
    if (!r.more) co_return false;
  }
  co_return true;
}

asio::awaitable<bool> Maintenance::compact() {
  bool moved = false;
  for (int pass = 0; pass < kMaxPassesPerTick && !stopping_ && !disk_full(); ++pass) {
    auto started = std::chrono::steady_clock::now();
    storage::CompactionResult r;
    try {
      // A storage thread runs it; the pass uses its own connection for binary transfers.
      // Normally only closed windows; when the head holds too much, everything (open
      // windows then get more than one chunk row, which queries merge).
      int64_t now = wall_ms();
      bool forced = static_cast<int64_t>(head_.samples()) > settings_.ingest_max_head_samples;
      int64_t before = forced ? now + settings_.ingest_max_future_s * 1000 + 1
                              : storage::closed_before(now, settings_.ingest_compaction_grace_ms);
      r = co_await db_.pool().run([&](pqxx::connection&) {
        auto res = storage::compact_inbox(compact_conn_, before, kMaxSamplesPerPass, head_, cache_);
        // A pass frees what it read and the head's samples it moved: give the free pages
        // back, so the daemon's memory follows its load down (bench/run_memory.sh).
        if (res.samples > 0) malloc_trim(0);
        return res;
      });
    } catch (const std::exception& e) {
      failures_.with({"compaction"}).inc();
      spdlog::warn("compaction failed (will retry): {}", e.what());
      co_return moved;
    }
    if (r.samples == 0) co_return moved;
    moved = true;
    runs_.inc();
    samples_.inc(static_cast<double>(r.samples));
    duration_.observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    spdlog::debug("compacted {} inbox rows, {} samples into {} chunks", r.inbox_rows, r.samples,
                  r.chunks);
    if (!r.more) co_return moved;
  }
  co_return moved;
}

asio::awaitable<void> Maintenance::partitions() {
  try {
    storage::Retention ret{live_.retention_raw_ms(), live_.retention_rollup_1m_ms(),
                           live_.retention_rollup_1h_ms()};
    int dropped = co_await db_.pool().run(
        [&](pqxx::connection& c) { return storage::maintain_partitions(c, wall_ms(), ret); });
    if (dropped > 0) {
      int64_t now = wall_ms();
      cache_.drop_ending_by(Tier::kRollup1m, now - ret.rollup_1m_ms);
      cache_.drop_ending_by(Tier::kRollup1h, now - ret.rollup_1h_ms);
      dropped_.inc(dropped);
      spdlog::info("retention: dropped {} partitions", dropped);
    }
  } catch (const std::exception& e) {
    failures_.with({"partitions"}).inc();
    spdlog::warn("partition upkeep failed (will retry): {}", e.what());
  }
}

}  // namespace metricsd::server
