// The bytes-in-flight budget; see byte_budget.hpp.
#include "core/byte_budget.hpp"

#include <utility>

namespace metricsd {

std::shared_ptr<ByteBudget> ByteBudget::create(int64_t limit_bytes) {
  return std::shared_ptr<ByteBudget>(new ByteBudget(limit_bytes));
}

bool ByteBudget::take(int64_t bytes) {
  int64_t cur = used_.load(std::memory_order_relaxed);
  do {
    if (bytes > limit_ - cur) return false;
  } while (!used_.compare_exchange_weak(cur, cur + bytes, std::memory_order_relaxed));
  int64_t held = cur + bytes;
  int64_t peak = peak_.load(std::memory_order_relaxed);
  while (held > peak && !peak_.compare_exchange_weak(peak, held, std::memory_order_relaxed)) {
  }
  return true;
}

int64_t ByteBudget::settled_after_spike(int64_t spike) {
  int64_t peak = peak_.load(std::memory_order_relaxed);
  while (peak >= spike) {
    int64_t now = used_.load(std::memory_order_relaxed);
    if (now > spike / 64) return 0;
    if (peak_.compare_exchange_weak(peak, now, std::memory_order_relaxed)) return peak;
  }
  return 0;
}

ByteBudget::Reservation ByteBudget::try_reserve(int64_t bytes) {
  if (bytes < 0 || !take(bytes)) return {};
  return Reservation(shared_from_this(), bytes);
}

ByteBudget::Reservation& ByteBudget::Reservation::operator=(Reservation&& o) noexcept {
  if (this != &o) {
    reset();
    budget_ = std::move(o.budget_);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

bool ByteBudget::Reservation::resize(int64_t total) {
  if (!budget_ || total < 0) return false;
  if (total > bytes_) {
    if (!budget_->take(total - bytes_)) return false;
  } else {
    budget_->give_back(bytes_ - total);
  }
  bytes_ = total;
  return true;
}

void ByteBudget::Reservation::reset() {
  if (budget_) budget_->give_back(bytes_);
  budget_.reset();
  bytes_ = 0;
}

}  // namespace metricsd
