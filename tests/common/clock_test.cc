#include "edgesketch/common/clock.h"

#include <gtest/gtest.h>

namespace edgesketch {
namespace {

TEST(ClockTest, SystemClockIsPlausibleAndMonotonic) {
  SystemClock c;
  EXPECT_GT(c.now_ms(), 1'600'000'000'000);  // after 2020
  auto a = c.monotonic_ns();
  auto b = c.monotonic_ns();
  EXPECT_LE(a, b);
}

TEST(ClockTest, FakeClockMovesOnlyWhenTold) {
  FakeClock c(1000, 5);
  EXPECT_EQ(c.now_ms(), 1000);
  c.advance_ms(250);
  EXPECT_EQ(c.now_ms(), 1250);
  EXPECT_EQ(c.monotonic_ns(), 5 + 250'000'000);
  c.set_now_ms(10);
  EXPECT_EQ(c.now_ms(), 10);
}

}  // namespace
}  // namespace edgesketch
