// Maintenance: the background jobs of the storage engine, on a timer: compaction of the
// inbox into sample and rollup blocks (every ingest.compaction_interval_ms), merging each
// closed day's blocks into one per series (storage/block_merge, every minute and until
// done) and partition upkeep (ahead creation and retention drops, every minute); and,
// every second, sealing the head's plain samples into blocks (Head::seal_open). Database
// work and sealing run on the storage pool; one daemon of several does the database work
// at a time (advisory lock). While the disk is below its watermark (`disk`), compaction
// and block merging wait (they write their new rows before the old ones are freed);
// retention drops go on, since they give space back.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/disk_watermark.hpp"
#include "core/head.hpp"
#include "core/live_settings.hpp"
#include "core/prom.hpp"
#include "core/settings.hpp"
#include "core/tier_cache.hpp"
#include "storage/database.hpp"
#include "storage/pg_binary.hpp"

namespace metricsd::server {

class Maintenance {
 public:
  Maintenance(boost::asio::io_context& ioc, storage::Database& db, Head& head, TierCache& cache,
              const Settings& settings, const LiveSettings& live, prom::Registry& metrics,
              const DiskWatermark* disk = nullptr);
  void start();
  void stop();

 private:
  boost::asio::awaitable<void> run();
  boost::asio::awaitable<void> seal_head();
  // Returns whether any samples moved.
  boost::asio::awaitable<bool> compact();
  boost::asio::awaitable<void> partitions();
  // Returns whether a pass stopped at its bound (more to merge).
  boost::asio::awaitable<bool> merge_blocks();
  // Below the disk watermark: compaction and merging wait.
  bool disk_full() const { return disk_ && disk_->refusing(); }

  storage::Database& db_;
  Head& head_;
  TierCache& cache_;
  const Settings& settings_;
  const LiveSettings& live_;            // retention
  const DiskWatermark* disk_;           // may be null: never paused
  storage::PgConnection compact_conn_;  // used by one compaction or merge pass at a time
  boost::asio::steady_timer timer_;
  boost::asio::steady_timer seal_timer_;
  std::atomic<bool> stopping_{false};
  prom::Counter& runs_;
  prom::Counter& samples_;
  prom::Histogram& duration_;
  prom::Family<prom::Counter>& failures_;
  prom::Counter& dropped_;
  prom::Counter& merged_series_;
  prom::Counter& merged_blocks_;
  prom::Counter& packed_;
  prom::Family<prom::Counter>& paused_;
};

}  // namespace metricsd::server
