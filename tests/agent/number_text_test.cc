// parse_decimal: the fast path and the fallback give exactly std::from_chars' doubles.
#include "input/number_text.h"

#include <gtest/gtest.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>

namespace edgesketch::agent {
namespace {

void expect_same_as_from_chars(const std::string& text) {
  double want = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), want);
  ASSERT_TRUE(ec == std::errc() && end == text.data() + text.size()) << text;
  double got = 0;
  ASSERT_TRUE(parse_decimal(text, got)) << text;
  EXPECT_EQ(std::bit_cast<std::uint64_t>(got), std::bit_cast<std::uint64_t>(want))
      << text << ": " << got << " vs " << want;
}

TEST(NumberTextTest, BitForBitWhatFromCharsReads) {
  for (const char* t : {"0",
                        "-0",
                        "0.0",
                        "-0.000",
                        "22.13",
                        "45.2",
                        "1013.25",
                        "0.412",
                        "48",
                        "-3",
                        ".5",
                        "5.",
                        "00012",
                        "1E5",
                        "1e+5",
                        "1e-5",
                        "1e22",
                        "1e23",
                        "123456789012345678",
                        "9007199254740992",
                        "9007199254740993",
                        "9007199254740993.5",
                        "123456789012345678901234567890",
                        "0.1234567890123456789012",
                        "4.9e-324",
                        "2.2250738585072014e-308",
                        "1.7976931348623157e308",
                        "0.000000000000000000000000001",
                        "1000000000000000000000000",
                        "3.0000000000000004",
                        "24.595076027011313",
                        "1796652000123",
                        "1.796652000123e12"}) {
    expect_same_as_from_chars(t);
  }
}

// Random doubles, printed the ways devices and encoders print them, with a fixed seed.
TEST(NumberTextTest, RandomValuesInEveryPrinting) {
  std::mt19937_64 rng(20261207);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  char buf[64];
  for (int i = 0; i < 20'000; ++i) {
    const double scale = std::pow(10.0, static_cast<int>(rng() % 40) - 20);
    double v = unit(rng) * scale * ((rng() & 1) ? -1 : 1);
    if (i % 4 == 0) v = std::bit_cast<double>(rng());  // any bit pattern
    if (!std::isfinite(v)) continue;
    auto [e, ec] = std::to_chars(buf, buf + sizeof buf, v);
    expect_same_as_from_chars(std::string(buf, e));
    const int precision = 1 + static_cast<int>(rng() % 17);
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    expect_same_as_from_chars(buf);
    if (std::fabs(v) < 1e15) {
      std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(rng() % 7), v);
      expect_same_as_from_chars(buf);
    }
  }
}

TEST(NumberTextTest, OutOfRangeAndNotNumbers) {
  double v = 0;
  ASSERT_TRUE(parse_decimal("1e400", v));
  EXPECT_EQ(v, HUGE_VAL);
  ASSERT_TRUE(parse_decimal("-1e400", v));
  EXPECT_EQ(v, -HUGE_VAL);
  ASSERT_TRUE(parse_decimal("1e-400", v));
  EXPECT_EQ(v, 0.0);
  ASSERT_TRUE(parse_decimal("-0.00001e-400", v));
  EXPECT_EQ(v, 0.0);
  EXPECT_TRUE(std::signbit(v));
  for (const char* bad : {"", "-", ".", "-.", "e5", "1e", "1e+", "--1", "+1", "1.2.3", "1x", "0x10",
                          "inf", "nan", "1 ", " 1", "1e5.5"}) {
    EXPECT_FALSE(parse_decimal(bad, v)) << bad;
  }
}

}  // namespace
}  // namespace edgesketch::agent
