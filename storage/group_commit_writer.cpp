// The group-commit writer; see group_commit_writer.hpp.
#include "storage/group_commit_writer.hpp"

#include "storage/pg_binary.hpp"

#include <libpq-fe.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>
#include "core/thread_name.hpp"

namespace metricsd::storage {
namespace {

constexpr const char* kCopyInbox =
    "COPY inbox (series_ids, ts_ms, vals, min_ts_ms, max_ts_ms, n) FROM STDIN (FORMAT binary)";
}  // namespace

struct GroupCommitWriter::Connection {
  explicit Connection(std::string conninfo) : pg(std::move(conninfo)) {}
  PgConnection pg;
};

GroupCommitWriter::GroupCommitWriter(Options options, const CommitFanout& fanout, CommitGate& gate,
                                     prom::Registry& metrics)
    : options_(std::move(options)),
      fanout_(fanout),
      gate_(gate),
      commit_seconds_(metrics
                          .histogram("metricsd_ingest_commit_duration_seconds",
                                     "Time of one group commit (COPY + COMMIT)", {},
                                     prom::latency_bounds_seconds())
                          .get()),
      committed_samples_(
          metrics
              .counter("metricsd_ingest_committed_samples_total", "Samples committed to the inbox")
              .get()),
      commits_(metrics.counter("metricsd_ingest_commits_total", "Group commits").get()),
      failures_(metrics.counter("metricsd_ingest_commit_failures_total",
                                "Group commits that failed, by reason", {"reason"})),
      group_requests_(metrics
                          .histogram("metricsd_ingest_commit_requests",
                                     "Requests completed by one group commit", {},
                                     {1, 2, 4, 8, 16, 32, 64, 128, 256})
                          .get()),
      conn_(std::make_unique<Connection>(
          StoragePool::with_client_params(options_.conninfo, options_.connect_timeout_ms))) {
  metrics.gauge_fn("metricsd_ingest_queue_samples", "Samples waiting for the group commit",
                   [this] { return static_cast<double>(queued_samples()); });
}

GroupCommitWriter::~GroupCommitWriter() {
  stop();
}

void GroupCommitWriter::start() {
  thread_ = std::thread([this] {
    name_this_thread("md-writer");
    thread_main();
  });
}

void GroupCommitWriter::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int64_t GroupCommitWriter::queued_samples() const {
  std::lock_guard lock(mu_);
  return queued_samples_;
}

bool GroupCommitWriter::submit(SampleRows rows, Done done) {
  {
    std::lock_guard lock(mu_);
    int64_t n = static_cast<int64_t>(rows.size());
    if (stopping_ || (queued_samples_ > 0 && queued_samples_ + n > options_.max_queue_samples))
      return false;
    queued_samples_ += n;
    queue_.push_back({std::move(rows), std::move(done)});
  }
  cv_.notify_one();
  return true;
}

boost::asio::awaitable<void> GroupCommitWriter::write(SampleRows rows) {
  namespace asio = boost::asio;
  auto ex = co_await asio::this_coro::executor;
  auto initiate = [this, ex, rows = std::move(rows)](auto handler) mutable {
    auto h = std::make_shared<decltype(handler)>(std::move(handler));
    auto work = std::make_shared<asio::executor_work_guard<decltype(ex)>>(ex);
    auto complete = [h, ex, work](std::exception_ptr e) {
      asio::post(ex, [h, e, work] { (*h)(e); });
    };
    if (!submit(std::move(rows), complete))
      complete(std::make_exception_ptr(
          Overloaded("ingest queue is full (ingest.max_queue_samples); retry shortly")));
  };
  co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::exception_ptr)>(
      std::move(initiate), asio::use_awaitable);
}

void GroupCommitWriter::thread_main() {
  for (;;) {
    std::vector<Pending> group;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      int64_t n = 0;
      while (!queue_.empty() &&
             (group.empty() || n + static_cast<int64_t>(queue_.front().rows.size()) <=
                                   options_.max_commit_samples)) {
        n += static_cast<int64_t>(queue_.front().rows.size());
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queued_samples_ -= n;
    }
    commit(group);
  }
}

void GroupCommitWriter::commit(std::vector<Pending>& group) {
  auto started = std::chrono::steady_clock::now();
  // Until the samples are in the head: a series deletion orders itself against whole
  // commits (core/commit_gate.hpp).
  auto gate = gate_.commit();
  size_t total = 0;
  for (auto& p : group)
    gate_.drop_buried(p.rows);
  int64_t min_ts = INT64_MAX, max_ts = INT64_MIN;
  std::vector<const SampleRows*> parts;
  std::vector<const std::vector<int64_t>*> ids, times;
  std::vector<const std::vector<double>*> values;
  for (const auto& p : group) {
    total += p.rows.size();
    parts.push_back(&p.rows);
    ids.push_back(&p.rows.series_ids);
    times.push_back(&p.rows.ts_ms);
    values.push_back(&p.rows.values);
    for (int64_t t : p.rows.ts_ms) {
      min_ts = std::min(min_ts, t);
      max_ts = std::max(max_ts, t);
    }
  }
  if (total == 0) {  // every sample was of a deleted series: nothing to store
    for (auto& p : group)
      p.done(nullptr);
    return;
  }
  // The whole group is one inbox row of parallel arrays.
  CopyBinary copy;
  copy.row(6);
  copy.int8_array(ids);
  copy.int8_array(times);
  copy.float8_array(values);
  copy.int8(min_ts);
  copy.int8(max_ts);
  copy.int4(static_cast<int32_t>(total));
  auto& pg = conn_->pg;
  try {
    pg.exec("BEGIN");
    pg.copy_in(kCopyInbox, copy.finish());
    pg.exec("COMMIT");
  } catch (const std::exception& e) {
    bool lost = pg.broken();
    if (!lost) {
      try {
        pg.exec("ROLLBACK");
      } catch (const std::exception&) {
      }
    }
    // Once per outage, not once per group: the counter has the rest.
    if (!failing_)
      spdlog::warn("ingest writer: commit of {} samples from {} requests failed: {}", total,
                   group.size(), e.what());
    failing_ = true;
    failures_.with({lost ? "connection_lost" : "error"}).inc();
    auto err = std::current_exception();
    for (auto& p : group)
      p.done(err);
    return;
  }
  if (failing_) spdlog::info("ingest writer: commits succeed again");
  failing_ = false;
  commit_seconds_.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  committed_samples_.inc(static_cast<double>(total));
  commits_.inc();
  group_requests_.observe(static_cast<double>(group.size()));
  fanout_.publish(CommittedBatch{parts});
  for (auto& p : group)
    p.done(nullptr);
}

}  // namespace metricsd::storage
