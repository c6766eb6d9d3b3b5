// The group-commit writer; see group_commit_writer.hpp.
#include "storage/group_commit_writer.hpp"

#include <libpq-fe.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <bit>
#include <chrono>
#include <cstring>

namespace metricsd::storage {
namespace {

constexpr const char* kCopyInbox =
    "COPY inbox (series_ids, ts_ms, vals, min_ts_ms, max_ts_ms, n) FROM STDIN (FORMAT binary)";
constexpr uint32_t kInt8Oid = 20;
constexpr uint32_t kFloat8Oid = 701;

// Big-endian appenders for PostgreSQL's binary COPY format.
void put32(std::string& b, uint32_t v) {
  v = __builtin_bswap32(v);
  b.append(reinterpret_cast<const char*>(&v), 4);
}
void put16(std::string& b, uint16_t v) {
  v = __builtin_bswap16(v);
  b.append(reinterpret_cast<const char*>(&v), 2);
}

void put_int8_field(std::string& b, int64_t v) {
  put32(b, 8);
  uint64_t x = __builtin_bswap64(static_cast<uint64_t>(v));
  b.append(reinterpret_cast<const char*>(&x), 8);
}

std::string one_line(const char* s) {
  std::string out = s ? s : "";
  for (char& c : out)
    if (c == '\n') c = ' ';
  while (!out.empty() && out.back() == ' ')
    out.pop_back();
  return out;
}

}  // namespace

struct GroupCommitWriter::Connection {
  PGconn* pg = nullptr;
  ~Connection() {
    if (pg) PQfinish(pg);
  }
};

GroupCommitWriter::GroupCommitWriter(Options options, prom::Registry& metrics)
    : options_(std::move(options)),
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
      conn_(std::make_unique<Connection>()) {
  metrics.gauge_fn("metricsd_ingest_queue_samples", "Samples waiting for the group commit",
                   [this] { return static_cast<double>(queued_samples()); });
}

GroupCommitWriter::~GroupCommitWriter() {
  stop();
}

void GroupCommitWriter::start() {
  thread_ = std::thread([this] { thread_main(); });
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
  auto fail_all = [&](std::exception_ptr e, const char* reason) {
    failures_.with({reason}).inc();
    for (auto& p : group)
      p.done(e);
  };
  auto& pg = conn_->pg;
  if (pg && PQstatus(pg) != CONNECTION_OK) {
    PQfinish(pg);
    pg = nullptr;
  }
  if (!pg) {
    std::string conninfo =
        StoragePool::with_client_params(options_.conninfo, options_.connect_timeout_ms);
    pg = PQconnectdb(conninfo.c_str());
    if (PQstatus(pg) != CONNECTION_OK) {
      std::string why = one_line(PQerrorMessage(pg));
      PQfinish(pg);
      pg = nullptr;
      spdlog::warn("ingest writer: cannot connect to the database: {}", why);
      return fail_all(std::make_exception_ptr(Unavailable("database unreachable: " + why)),
                      "connect");
    }
  }
  size_t total = 0;
  for (const auto& p : group)
    total += p.rows.size();
  // Flatten the group into one row of arrays.
  std::string buf;
  buf.reserve(64 + total * 36);
  buf.append("PGCOPY\n\377\r\n\0", 11);
  put32(buf, 0);
  put32(buf, 0);
  put16(buf, 6);
  int64_t min_ts = INT64_MAX, max_ts = INT64_MIN;
  std::vector<const SampleRows*> parts;
  for (const auto& p : group) {
    parts.push_back(&p.rows);
    for (int64_t t : p.rows.ts_ms) {
      min_ts = std::min(min_ts, t);
      max_ts = std::max(max_ts, t);
    }
  }
  // A one-dimensional array of 8-byte elements, concatenated over the group's parts.
  auto put_flat = [&](uint32_t oid, auto member) {
    put32(buf, static_cast<uint32_t>(20 + total * 12));
    put32(buf, 1);
    put32(buf, 0);
    put32(buf, oid);
    put32(buf, static_cast<uint32_t>(total));
    put32(buf, 1);
    size_t at = buf.size();
    buf.resize(at + total * 12);
    char* p = buf.data() + at;
    for (const auto* r : parts) {
      for (const auto& x : r->*member) {
        uint32_t len = __builtin_bswap32(8);
        uint64_t v = __builtin_bswap64(std::bit_cast<uint64_t>(x));
        std::memcpy(p, &len, 4);
        std::memcpy(p + 4, &v, 8);
        p += 12;
      }
    }
  };
  put_flat(kInt8Oid, &SampleRows::series_ids);
  put_flat(kInt8Oid, &SampleRows::ts_ms);
  put_flat(kFloat8Oid, &SampleRows::values);
  put_int8_field(buf, min_ts);
  put_int8_field(buf, max_ts);
  put32(buf, 4);
  put32(buf, static_cast<uint32_t>(total));
  put16(buf, 0xFFFF);

  auto exec_ok = [&](const char* sql) {
    PGresult* r = PQexec(pg, sql);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    return ok;
  };
  std::string error;
  bool ok = exec_ok("BEGIN");
  if (ok) {
    PGresult* r = PQexec(pg, kCopyInbox);
    ok = PQresultStatus(r) == PGRES_COPY_IN;
    PQclear(r);
  }
  if (ok) ok = PQputCopyData(pg, buf.data(), static_cast<int>(buf.size())) == 1;
  if (ok) ok = PQputCopyEnd(pg, nullptr) == 1;
  if (ok) {
    PGresult* r = PQgetResult(pg);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) error = one_line(PQresultErrorMessage(r));
    PQclear(r);
    while ((r = PQgetResult(pg)) != nullptr)
      PQclear(r);
  }
  if (ok) ok = exec_ok("COMMIT");
  if (!ok) {
    if (error.empty()) error = one_line(PQerrorMessage(pg));
    bool lost = PQstatus(pg) != CONNECTION_OK;
    if (!lost) exec_ok("ROLLBACK");
    spdlog::warn("ingest writer: commit of {} samples from {} requests failed: {}", total,
                 group.size(), error);
    if (lost) {
      PQfinish(pg);
      pg = nullptr;
      return fail_all(std::make_exception_ptr(Unavailable("database connection lost: " + error)),
                      "connection_lost");
    }
    return fail_all(std::make_exception_ptr(std::runtime_error("commit failed: " + error)),
                    "error");
  }
  commit_seconds_.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  committed_samples_.inc(static_cast<double>(total));
  commits_.inc();
  group_requests_.observe(static_cast<double>(group.size()));
  if (hook_) {
    CommittedBatch batch{0, &parts};
    hook_(batch);
  }
  for (auto& p : group)
    p.done(nullptr);
}

}  // namespace metricsd::storage
