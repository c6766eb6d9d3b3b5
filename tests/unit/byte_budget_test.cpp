// ByteBudget: bytes held at once across holders, given back by every Reservation's end.
#include "core/byte_budget.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace metricsd {
namespace {

TEST(ByteBudget, ReservesUpToTheLimitAndNoMore) {
  auto b = ByteBudget::create(100);
  auto r1 = b->try_reserve(60);
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1.bytes(), 60);
  EXPECT_EQ(b->in_use(), 60);
  auto r2 = b->try_reserve(41);
  EXPECT_FALSE(r2);
  EXPECT_EQ(b->in_use(), 60);  // a refusal takes nothing
  auto r3 = b->try_reserve(40);
  EXPECT_TRUE(r3);
  EXPECT_EQ(b->in_use(), 100);
  EXPECT_FALSE(b->try_reserve(1));
  EXPECT_TRUE(b->try_reserve(0));  // nothing always fits
}

TEST(ByteBudget, DestructionAndResetGiveTheBytesBack) {
  auto b = ByteBudget::create(100);
  {
    auto r = b->try_reserve(70);
    EXPECT_EQ(b->in_use(), 70);
  }
  EXPECT_EQ(b->in_use(), 0);
  auto r = b->try_reserve(70);
  r.reset();
  EXPECT_FALSE(r);
  EXPECT_EQ(b->in_use(), 0);
  r.reset();  // twice is harmless
  EXPECT_EQ(b->in_use(), 0);
}

TEST(ByteBudget, MovedReservationsGiveBackOnce) {
  auto b = ByteBudget::create(100);
  ByteBudget::Reservation outer;
  {
    auto r = b->try_reserve(30);
    outer = std::move(r);
  }
  EXPECT_EQ(b->in_use(), 30);
  ByteBudget::Reservation other = b->try_reserve(20);
  other = std::move(outer);  // gives back other's 20, takes over the 30
  EXPECT_EQ(b->in_use(), 30);
  other.reset();
  EXPECT_EQ(b->in_use(), 0);
}

TEST(ByteBudget, ResizeGrowsWithinTheLimitAndShrinks) {
  auto b = ByteBudget::create(100);
  auto r = b->try_reserve(10);
  EXPECT_TRUE(r.resize(80));
  EXPECT_EQ(b->in_use(), 80);
  EXPECT_FALSE(r.resize(101));
  EXPECT_EQ(r.bytes(), 80);  // unchanged by a refusal
  EXPECT_EQ(b->in_use(), 80);
  EXPECT_TRUE(r.resize(5));
  EXPECT_EQ(b->in_use(), 5);
  ByteBudget::Reservation empty;
  EXPECT_FALSE(empty.resize(1));  // not from a budget
}

TEST(ByteBudget, AReservationKeepsItsBudgetAlive) {
  ByteBudget::Reservation r;
  {
    auto b = ByteBudget::create(10);
    r = b->try_reserve(10);
  }
  r.reset();  // the budget is still there to give back to (no use after free under ASan)
  EXPECT_FALSE(r);
}

TEST(ByteBudget, SettledAfterSpikeAnswersOncePerSpikeWhenTheBytesHaveGone) {
  auto b = ByteBudget::create(10'000);
  EXPECT_EQ(b->settled_after_spike(6400), 0);  // nothing held yet
  {
    auto small = b->try_reserve(6399);
    EXPECT_EQ(b->settled_after_spike(6400), 0);  // below the spike
  }
  EXPECT_EQ(b->settled_after_spike(6400), 0);
  {
    auto r1 = b->try_reserve(4000);
    auto r2 = b->try_reserve(4000);              // 8000 at the peak
    EXPECT_EQ(b->settled_after_spike(6400), 0);  // still held
    r1.reset();
    EXPECT_EQ(b->settled_after_spike(6400), 0);  // one body of the burst still there
    r2.resize(101);
    EXPECT_EQ(b->settled_after_spike(6400), 0);  // more than 6400 / 64
    r2.resize(100);
    EXPECT_EQ(b->settled_after_spike(6400), 8000);  // once
    EXPECT_EQ(b->settled_after_spike(6400), 0);
  }
  EXPECT_EQ(b->settled_after_spike(6400), 0);  // the spike was answered already
  auto r3 = b->try_reserve(7000);
  r3.reset();
  EXPECT_EQ(b->settled_after_spike(6400), 7000);  // a new spike
}

TEST(ByteBudget, ConcurrentHoldersNeverPassTheLimit) {
  auto b = ByteBudget::create(1000);
  std::atomic<int64_t> peak{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 20'000; ++i) {
        auto r = b->try_reserve(7 + i % 300);
        if (!r) continue;
        int64_t now = b->in_use();
        int64_t p = peak.load();
        while (now > p && !peak.compare_exchange_weak(p, now)) {
        }
        if (i % 3 == 0) r.resize(r.bytes() + 50);
      }
    });
  for (auto& t : threads)
    t.join();
  EXPECT_LE(peak.load(), 1000);
  EXPECT_EQ(b->in_use(), 0);
}

}  // namespace
}  // namespace metricsd
