#include "edgesketch/common/byte_coding.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace edgesketch {
namespace {

TEST(ByteCodingTest, GoldenLittleEndianAndVarint) {
  Bytes b;
  put_u16(b, 0x0102);
  put_u32(b, 0x03040506);
  put_varint(b, 300);
  put_svarint(b, -2);
  put_string(b, "hi");
  EXPECT_EQ(b, (Bytes{0x02, 0x01, 0x06, 0x05, 0x04, 0x03, 0xac, 0x02, 0x03, 0x02, 'h', 'i'}));
}

TEST(ByteCodingTest, RoundTripExtremes) {
  Bytes b;
  const std::uint64_t u[] = {
      0, 1, 127, 128, 16383, 16384, std::numeric_limits<std::uint64_t>::max()};
  const std::int64_t s[] = {0, -1, 1, std::numeric_limits<std::int64_t>::min(),
                            std::numeric_limits<std::int64_t>::max()};
  for (auto v : u) put_varint(b, v);
  for (auto v : s) put_svarint(b, v);
  put_f64(b, -0.0);
  put_f64(b, std::numeric_limits<double>::infinity());
  put_u64(b, 0x0102030405060708ull);
  ByteReader r(b);
  for (auto v : u) EXPECT_EQ(r.varint(), v);
  for (auto v : s) EXPECT_EQ(r.svarint(), v);
  double nz = r.f64();
  EXPECT_TRUE(nz == 0.0 && std::signbit(nz));
  EXPECT_TRUE(std::isinf(r.f64()));
  EXPECT_EQ(r.u64(), 0x0102030405060708ull);
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.at_end());
  for (auto v : u)
    EXPECT_EQ(static_cast<std::size_t>(varint_size(v)), [&] {
      Bytes t;
      put_varint(t, v);
      return t.size();
    }());
}

TEST(ByteCodingTest, ReaderFailsStickyOnTruncation) {
  Bytes b{0x80, 0x80};  // unterminated varint
  ByteReader r(b);
  EXPECT_EQ(r.varint(), 0u);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.u8(), 0u);
  EXPECT_FALSE(r.ok());

  Bytes eleven(11, 0xff);
  ByteReader r2(eleven);
  r2.varint();
  EXPECT_FALSE(r2.ok());

  Bytes overflow{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
  ByteReader r3(overflow);
  r3.varint();
  EXPECT_FALSE(r3.ok());

  Bytes str{0x05, 'a', 'b'};
  ByteReader r4(str);
  EXPECT_TRUE(r4.string(100).empty());
  EXPECT_FALSE(r4.ok());

  Bytes long_str{0x03, 'a', 'b', 'c'};
  ByteReader r5(long_str);
  EXPECT_TRUE(r5.string(2).empty());
  EXPECT_FALSE(r5.ok());
}

}  // namespace
}  // namespace edgesketch
