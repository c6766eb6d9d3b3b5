// StoragePool: a fixed set of storage threads, each owning one libpqxx connection, that
// run blocking database work off the io threads. Jobs wait in one bounded queue; a job
// that would exceed it is refused at once (Overloaded). A lost connection is reopened
// by the next job; while the database cannot be reached jobs fail with Unavailable.
// `run` is the coroutine face: it resumes the caller on its own executor.
#pragma once

#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <variant>
#include <vector>

#include "core/prom.hpp"

namespace metricsd::storage {

// The database cannot be reached or the connection broke: answer 503 and retry later.
class Unavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Too much work is already waiting: answer 503 + Retry-After.
class Overloaded : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class StoragePool {
 public:
  struct Options {
    std::string conninfo;
    int threads = 4;
    int max_waiting = 1000;
    int connect_timeout_ms = 5000;
    std::string name = "main";  // label in /metrics
  };
  // A job gets the thread's connection, or nullptr and the reason it could not connect.
  using Job = std::function<void(pqxx::connection*, std::exception_ptr)>;

  StoragePool(Options options, prom::Registry& metrics);
  ~StoragePool();
  StoragePool(const StoragePool&) = delete;
  StoragePool& operator=(const StoragePool&) = delete;

  void start();
  // Refuses new jobs, fails the queued ones with Unavailable, joins the threads.
  void stop();

  // Queues a job; false when the queue is full or the pool is stopped.
  bool submit(Job job);

  size_t waiting() const;
  size_t in_use() const { return in_use_.load(); }

  // Runs fn(pqxx::connection&) on a storage thread and resumes the calling coroutine on
  // its executor with the result, or rethrows what fn threw (broken connections as
  // Unavailable; a full queue as Overloaded).
  template <class Fn>
  auto run(Fn fn) -> boost::asio::awaitable<std::invoke_result_t<Fn&, pqxx::connection&>>;

  // Connection string with application_name and connect_timeout added.
  static std::string with_client_params(const std::string& conninfo, int connect_timeout_ms);
  // conninfo whose sessions cancel any statement after timeout_ms (server option
  // statement_timeout), unless it already sets `options`.
  static std::string with_statement_timeout(const std::string& conninfo, int timeout_ms);

 private:
  void thread_main();
  std::exception_ptr translate(std::exception_ptr e);

  const Options options_;
  const std::string conninfo_;  // with client params
  prom::Gauge& waiting_gauge_;
  prom::Gauge& in_use_gauge_;
  prom::Counter& jobs_;
  prom::Family<prom::Counter>& errors_;

  mutable std::mutex mu_;  // guards queue_ and stopping_
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;

  std::atomic<size_t> in_use_{0};
  std::atomic<bool> reported_down_{false};  // so an outage is logged once, not per job
  std::vector<std::thread> threads_;        // constant between start() and stop()
};

template <class Fn>
auto StoragePool::run(Fn fn)
    -> boost::asio::awaitable<std::invoke_result_t<Fn&, pqxx::connection&>> {
  namespace asio = boost::asio;
  // GCC 12 destroys a co_await temporary with a non-trivial destructor twice (a double
  // free): the lambda must capture by reference only.
  static_assert(std::is_trivially_destructible_v<Fn>,
                "StoragePool::run: capture by reference only (see the comment above)");
  using R = std::invoke_result_t<Fn&, pqxx::connection&>;
  using Value = std::conditional_t<std::is_void_v<R>, std::monostate, R>;
  auto ex = co_await asio::this_coro::executor;
  auto initiate = [this, ex, fn = std::move(fn)](auto handler) mutable {
    using Handler = decltype(handler);
    auto h = std::make_shared<Handler>(std::move(handler));
    auto work = asio::make_work_guard(ex);
    auto complete = [h, ex](std::exception_ptr err, Value v) {
      asio::post(ex, [h, err, v = std::move(v)]() mutable { (*h)(err, std::move(v)); });
    };
    bool queued = submit([this, fn = std::move(fn), complete, work](
                             pqxx::connection* c, std::exception_ptr err) mutable {
      Value v{};
      if (!err) {
        try {
          if constexpr (std::is_void_v<R>) {
            fn(*c);
          } else {
            v = fn(*c);
          }
        } catch (...) {
          err = translate(std::current_exception());
        }
      }
      complete(err, std::move(v));
      work.reset();
    });
    if (!queued) complete(std::make_exception_ptr(Overloaded("storage queue is full")), Value{});
  };
  // use_awaitable rethrows a non-null exception_ptr in the awaiting coroutine.
  Value value =
      co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::exception_ptr, Value)>(
          std::move(initiate), asio::use_awaitable);
  if constexpr (!std::is_void_v<R>) co_return std::move(value);
}

}  // namespace metricsd::storage
