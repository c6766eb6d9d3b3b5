// GroupCommitWriter: the durable write path. Requests queue their samples (already
// resolved to series ids); one writer thread takes everything queued, writes it as one
// inbox row (parallel arrays) with a binary COPY inside one transaction, commits, and
// hands the committed samples to the CommitFanout (head, stream, ...), and only then
// completes every waiting request. The queue is bounded in samples; beyond it a request
// is refused at once (Overloaded -> 503 + Retry-After), never dropped later.
//
// Threads: submit()/write() from any thread (io threads); they only queue under mu_.
// The writer thread owns the connection and runs the fan-out. stop() (from the thread
// that shuts the daemon down) commits what is queued, completes every waiting request,
// and joins; submissions after it fail with Unavailable.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/commit_fanout.hpp"
#include "core/commit_gate.hpp"
#include "core/committed_batch.hpp"
#include "core/prom.hpp"
#include "storage/storage_pool.hpp"

namespace metricsd::storage {

using metricsd::SampleRows;

class GroupCommitWriter {
 public:
  struct Options {
    std::string conninfo;
    int64_t max_queue_samples = 2'000'000;
    int64_t max_commit_samples = 4'000'000;  // one inbox row at most this big
    int connect_timeout_ms = 5000;
  };
  using Done = std::function<void(std::exception_ptr)>;

  // `fanout` gets every committed group, on the writer thread, before its requests are
  // completed; it must outlive the writer, and so must `gate` (held from the inbox write
  // through the fan-out; samples of deleted series are dropped under it).
  GroupCommitWriter(Options options, const CommitFanout& fanout, CommitGate& gate,
                    prom::Registry& metrics);
  ~GroupCommitWriter();
  GroupCommitWriter(const GroupCommitWriter&) = delete;
  GroupCommitWriter& operator=(const GroupCommitWriter&) = delete;

  void start();
  // Commits what is queued, then stops; later submissions fail with Unavailable.
  void stop();

  // Queues rows; `done` runs on the writer thread after COMMIT (or with the failure).
  // False (nothing queued) when the queue is full or the writer stopped.
  bool submit(SampleRows rows, Done done);

  // Coroutine face: resumes on the caller's executor once committed; throws
  // Overloaded, Unavailable, or the database error.
  boost::asio::awaitable<void> write(SampleRows rows);

  int64_t queued_samples() const;

 private:
  struct Pending {
    SampleRows rows;
    Done done;
  };
  void thread_main();
  void commit(std::vector<Pending>& group);

  const Options options_;
  const CommitFanout& fanout_;
  CommitGate& gate_;
  prom::Histogram& commit_seconds_;
  prom::Counter& committed_samples_;
  prom::Counter& commits_;
  prom::Family<prom::Counter>& failures_;
  prom::Histogram& group_requests_;

  mutable std::mutex mu_;  // guards queue_, queued_samples_, stopping_
  std::condition_variable cv_;
  std::deque<Pending> queue_;
  int64_t queued_samples_ = 0;
  bool stopping_ = false;
  std::thread thread_;

  // Owned by the writer thread.
  struct Connection;
  std::unique_ptr<Connection> conn_;
  bool failing_ = false;  // the last commit failed (log an outage once)
};

}  // namespace metricsd::storage
