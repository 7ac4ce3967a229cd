#include "edgesketch/common/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace edgesketch {
namespace {

TEST(Crc32cTest, KnownVectors) {
  std::string s = "123456789";
  EXPECT_EQ(crc32c(s.data(), s.size()), 0xE3069283u);
  EXPECT_EQ(crc32c_extend_portable(0, s.data(), s.size()), 0xE3069283u);
  std::vector<std::uint8_t> zeros(32, 0);
  EXPECT_EQ(crc32c(zeros), 0x8A9136AAu);  // RFC 3720 B.4
  std::vector<std::uint8_t> ones(32, 0xff);
  EXPECT_EQ(crc32c(ones), 0x62A8AB43u);
  EXPECT_EQ(crc32c(nullptr, 0), 0u);
}

TEST(Crc32cTest, ExtendAndBothPathsAgree) {
  std::mt19937_64 rng(7);
  std::vector<std::uint8_t> data(1000);
  for (auto& b : data) b = static_cast<std::uint8_t>(rng());
  for (std::size_t split : {0u, 1u, 7u, 8u, 9u, 500u, 999u, 1000u}) {
    std::uint32_t a = crc32c(data.data(), split);
    a = crc32c_extend(a, data.data() + split, data.size() - split);
    EXPECT_EQ(a, crc32c(data));
    EXPECT_EQ(crc32c_extend_portable(0, data.data(), data.size()), crc32c(data));
  }
}

}  // namespace
}  // namespace edgesketch
