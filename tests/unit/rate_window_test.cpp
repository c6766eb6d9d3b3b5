// RateWindow: the one-minute rate of committed samples, from one-second buckets.
#include "core/rate_window.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace metricsd {
namespace {

TEST(RateWindow, EmptyWindowIsZero) {
  RateWindow w;
  EXPECT_EQ(w.per_second(0), 0.0);
  EXPECT_EQ(w.per_second(1'000'000), 0.0);
  EXPECT_EQ(w.per_second(-5), 0.0);
}

TEST(RateWindow, CountsTheLastSixtyFullSecondsOverSixty) {
  RateWindow w;
  for (int64_t s = 1000; s < 1060; ++s)
    w.add(60, s);  // 60 a second for a minute
  EXPECT_DOUBLE_EQ(w.per_second(1060), 60.0);
  // The current second is partial and left out.
  w.add(6000, 1060);
  EXPECT_DOUBLE_EQ(w.per_second(1060), 60.0);
  // One second on: 1000 falls out, 1060 comes in.
  EXPECT_DOUBLE_EQ(w.per_second(1061), (59 * 60 + 6000) / 60.0);
}

TEST(RateWindow, AddsWithinOneSecondAccumulate) {
  RateWindow w;
  w.add(10, 500);
  w.add(20, 500);
  w.add(30, 500);
  EXPECT_DOUBLE_EQ(w.per_second(501), 1.0);
  EXPECT_DOUBLE_EQ(w.per_second(500), 0.0);  // still the current second
}

TEST(RateWindow, SecondsOlderThanTheWindowDropOut) {
  RateWindow w;
  w.add(120, 100);
  EXPECT_DOUBLE_EQ(w.per_second(101), 2.0);
  EXPECT_DOUBLE_EQ(w.per_second(160), 2.0);  // 100 is the oldest of [100, 159]
  EXPECT_DOUBLE_EQ(w.per_second(161), 0.0);
}

TEST(RateWindow, GapLongerThanTheWindowForgetsTheOldSeconds) {
  RateWindow w;
  for (int64_t s = 0; s < 60; ++s)
    w.add(1, s);
  // Ten "laps" of silence; the slots are reused by seconds that fall into them again.
  constexpr int64_t later = 10 * RateWindow::kSlots;
  w.add(7, later);      // the slot of second 0
  w.add(5, later + 5);  // the slot of second 5
  EXPECT_DOUBLE_EQ(w.per_second(later + 6), 12.0 / 60);
  EXPECT_DOUBLE_EQ(w.per_second(later + 1000), 0.0);
}

TEST(RateWindow, GapOfExactlyOneLapReusesTheSlot) {
  RateWindow w;
  w.add(100, 10);
  w.add(3, 10 + RateWindow::kSlots);  // same slot, one lap later: must not add to the 100
  EXPECT_DOUBLE_EQ(w.per_second(11 + RateWindow::kSlots), 3.0 / 60);
}

TEST(RateWindow, SmallStepBackLandsInItsOwnSecond) {
  RateWindow w;
  w.add(60, 100);
  w.add(60, 95);                             // the clock stepped back 5 s
  EXPECT_DOUBLE_EQ(w.per_second(96), 1.0);   // only 95 is before 96
  EXPECT_DOUBLE_EQ(w.per_second(101), 2.0);  // both
}

TEST(RateWindow, StepBackBeyondTheWindowStartsOver) {
  RateWindow w;
  w.add(600, 1000);
  w.add(60, 500);  // 500 s back: the old window would otherwise lie "in the future"
  EXPECT_DOUBLE_EQ(w.per_second(501), 1.0);
  // When the clock reaches 1000 again, the count from before the step is gone.
  w.add(60, 1000);
  EXPECT_DOUBLE_EQ(w.per_second(1001), 1.0);
}

TEST(RateWindow, ReadingAtAnEarlierTimeCountsOnlyWhatIsBeforeIt) {
  RateWindow w;
  w.add(60, 200);
  w.add(120, 210);
  EXPECT_DOUBLE_EQ(w.per_second(205), 1.0);  // 210 is after the reading time
  EXPECT_DOUBLE_EQ(w.per_second(150), 0.0);
}

TEST(RateWindow, NegativeSecondsWork) {
  RateWindow w;
  w.add(30, -3);
  w.add(30, -61);
  EXPECT_DOUBLE_EQ(w.per_second(-2), 1.0);  // [-62, -3]: both
  EXPECT_DOUBLE_EQ(w.per_second(0), 0.5);   // [-60, -1]: -61 has dropped out
}

TEST(RateWindow, ConcurrentAddsAreAllCounted) {
  RateWindow w;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&w] {
      for (int i = 0; i < 10'000; ++i)
        w.add(1, 42);
    });
  for (auto& t : threads)
    t.join();
  EXPECT_DOUBLE_EQ(w.per_second(43), 40'000.0 / 60);
}

TEST(RateWindow, NowIsMonotonic) {
  int64_t a = RateWindow::now_s();
  int64_t b = RateWindow::now_s();
  EXPECT_LE(a, b);
}

}  // namespace
}  // namespace metricsd
