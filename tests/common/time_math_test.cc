// floor_div and window_floor round toward minus infinity, before 1970 too.
#include "edgesketch/common/time_math.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>

namespace edgesketch {
namespace {

TEST(TimeMathTest, FloorDivRoundsTowardMinusInfinity) {
  EXPECT_EQ(floor_div(19, 10), 1);
  EXPECT_EQ(floor_div(20, 10), 2);
  EXPECT_EQ(floor_div(0, 10), 0);
  EXPECT_EQ(floor_div(-1, 10), -1);
  EXPECT_EQ(floor_div(-10, 10), -1);
  EXPECT_EQ(floor_div(-11, 10), -2);
  EXPECT_EQ(floor_div(11, -10), -2);
  EXPECT_EQ(floor_div(-11, -10), 1);
  static_assert(floor_div(-1, 1000) == -1);
}

TEST(TimeMathTest, WindowFloorIsTheLargestMultipleAtOrBelow) {
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<std::int64_t> t(-(std::int64_t{1} << 50), std::int64_t{1} << 50);
  for (std::int64_t w : {1, 7, 1000, 10'000, 60'000, 86'400'000}) {
    for (int i = 0; i < 2000; ++i) {
      const std::int64_t x = t(rng);
      const std::int64_t s = window_floor(x, w);
      ASSERT_EQ(s % w, 0) << x << " " << w;
      ASSERT_LE(s, x);
      ASSERT_GT(s + w, x);
    }
  }
  EXPECT_EQ(window_floor(-1, 10'000), -10'000);
  EXPECT_EQ(window_floor(1'700'000'009'999, 10'000), 1'700'000'000'000);
}

}  // namespace
}  // namespace edgesketch
