// ByteBudget: a bound on bytes held at once across many holders (the request bodies being
// buffered by every HTTP connection). A holder reserves before it allocates and gives the
// bytes back through a Reservation's destructor, so every path (an answer, an error, a
// disconnect, a destroyed coroutine) releases what it took. Lock-free; thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>

namespace metricsd {

class ByteBudget : public std::enable_shared_from_this<ByteBudget> {
 public:
  class Reservation;

  // Held through a shared_ptr: a Reservation keeps its budget alive, so one released by a
  // coroutine frame destroyed after its server never touches freed memory.
  static std::shared_ptr<ByteBudget> create(int64_t limit_bytes);

  // Takes `bytes` if they fit under the limit with what is held already; else takes nothing
  // and returns an empty Reservation.
  Reservation try_reserve(int64_t bytes);

  int64_t limit() const { return limit_; }
  int64_t in_use() const { return used_.load(std::memory_order_relaxed); }

  // The most held at once, to one caller, once that was at least `spike` bytes (since the
  // last time this answered) and next to nothing (spike / 64) is held now: the moment to
  // give the memory of a burst back to the system. Otherwise 0.
  int64_t settled_after_spike(int64_t spike);

 private:
  explicit ByteBudget(int64_t limit_bytes) : limit_(limit_bytes) {}
  bool take(int64_t bytes);
  void give_back(int64_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }

  const int64_t limit_;
  std::atomic<int64_t> used_{0};
  std::atomic<int64_t> peak_{0};  // the most held since settled_after_spike() last said true
};

// Bytes taken from a ByteBudget, given back on destruction (or reset()). Move-only.
class ByteBudget::Reservation {
 public:
  Reservation() = default;
  Reservation(Reservation&& o) noexcept
      : budget_(std::move(o.budget_)), bytes_(std::exchange(o.bytes_, 0)) {}
  Reservation& operator=(Reservation&& o) noexcept;
  ~Reservation() { reset(); }

  explicit operator bool() const { return budget_ != nullptr; }
  int64_t bytes() const { return bytes_; }
  // Holds `total` bytes from now on: takes the difference if it fits (false: it does not,
  // and nothing changes), gives back the difference when `total` is smaller.
  bool resize(int64_t total);
  void reset();

 private:
  friend class ByteBudget;
  Reservation(std::shared_ptr<ByteBudget> b, int64_t bytes)
      : budget_(std::move(b)), bytes_(bytes) {}

  std::shared_ptr<ByteBudget> budget_;
  int64_t bytes_ = 0;
};

}  // namespace metricsd
