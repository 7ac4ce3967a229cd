#include "edgesketch/common/units.h"

#include <gtest/gtest.h>

namespace edgesketch {
namespace {

TEST(UnitsTest, Durations) {
  EXPECT_EQ(*parse_duration_ms("250ms"), 250);
  EXPECT_EQ(*parse_duration_ms("10s"), 10'000);
  EXPECT_EQ(*parse_duration_ms("5m"), 300'000);
  EXPECT_EQ(*parse_duration_ms("2h"), 7'200'000);
  EXPECT_EQ(*parse_duration_ms("7d"), 604'800'000);
  EXPECT_EQ(*parse_duration_ms("0"), 0);
  for (const char* bad : {"", "s", "10", "-1s", "1.5s", "10 s", "10sec", "99999999999999999999d",
                          "9999999999999999d"}) {
    auto r = parse_duration_ms(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("is not a duration"), std::string::npos);
  }
}

TEST(UnitsTest, Bytes) {
  EXPECT_EQ(*parse_bytes("512"), 512u);
  EXPECT_EQ(*parse_bytes("512B"), 512u);
  EXPECT_EQ(*parse_bytes("64KiB"), 65536u);
  EXPECT_EQ(*parse_bytes("256MiB"), 256u << 20);
  EXPECT_EQ(*parse_bytes("2GiB"), std::uint64_t{2} << 30);
  EXPECT_EQ(*parse_bytes("3MB"), 3'000'000u);
  for (const char* bad : {"", "MiB", "1.5MiB", "12mib", "99999999999TiB"}) {
    EXPECT_FALSE(parse_bytes(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace edgesketch
