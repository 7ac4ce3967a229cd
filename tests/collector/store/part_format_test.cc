// Part formats: a part written by the version-1 writer (checked in as hex) still opens and reads
// back row for row, and the format-2 block layout is pinned by golden bytes.
#include <gtest/gtest.h>
#include <zstd.h>

#include <bit>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "collector/store_test_util.h"
#include "edgesketch/env/env.h"
#include "edgesketch/sketch/exp_histogram.h"
#include "edgesketch/store/part_block.h"
#include "part_file.h"

namespace edgesketch::store {
namespace {

struct FixtureRow {
  PartRow row;
  Bytes h;
};

// The rows of the fixture parts: three series of six 10 s windows with 1 to 12 decimal readings
// (one series' values negative around zero), a window without histogram and one whose histogram
// sum differs from the row's (not stripped). Plain arithmetic, so the rows never change.
std::vector<FixtureRow> fixture_rows() {
  std::vector<FixtureRow> rows;
  std::uint32_t state = 12345;
  auto next = [&state]() {
    state = state * 1103515245u + 12345u;
    return (state >> 16) & 0x7fff;
  };
  for (std::uint64_t sid = 3; sid <= 5; ++sid) {
    for (int w = 0; w < 6; ++w) {
      FixtureRow f;
      f.row.series_id = sid;
      f.row.window_start = 1'700'000'000'000 + w * 10'000;
      const int n = 1 + static_cast<int>(next() % 12);
      sketch::ExpHistogram h;
      double sum = 0, lo = 0, hi = 0;
      for (int i = 0; i < n; ++i) {
        const double base = sid == 4 ? -0.5 : 20.0 * static_cast<double>(sid);
        const double v = base + static_cast<double>(next() % 200) / 100.0;
        h.add(v);
        sum += v;
        lo = i == 0 ? v : std::min(lo, v);
        hi = i == 0 ? v : std::max(hi, v);
      }
      f.row.count = static_cast<std::uint64_t>(n);
      f.row.sum = sum;
      f.row.min = lo;
      f.row.max = hi;
      if (!(sid == 5 && w == 2)) h.serialize(f.h);
      if (sid == 3 && w == 4) f.row.sum += 1;
      rows.push_back(std::move(f));
    }
  }
  for (auto& f : rows) f.row.histogram = f.h;
  return rows;
}

std::string to_hex(ByteSpan b) {
  std::string s;
  char buf[3];
  for (auto c : b) {
    std::snprintf(buf, sizeof buf, "%02x", c);
    s += buf;
  }
  return s;
}

// fixture_rows() as the version-1 part writer wrote them (block_rows 7, zstd level 3): part
// meta version 1, blocks in the version-1 column layout.
constexpr const char* kV1PartHex =
    "45535041525430314b010000630100000700000035d3c6ce28b52ffd6063000d0a00c41104060502001080a0abfe"
    "f962a09c0100000000bfa907070102020b080b0a36404ef0a3d70a3d71d7a41828f5c28f5c601c68df693290a429"
    "0a46fa60dd374dd375be9e9e4791e47ae920b9364d9364102de16c6e9ba6e9ba7c2fe15856158561a4dd374dd374"
    "d09164591645960f7fe4db7434e36d22c8b22c8b3cecb7adeb7adebf1bb1b86e1b86e1cb7adeb7adeb21e4791e47"
    "91b87dff709b26c9b26c9c0739393939191919a1010c01060180100100f8050101010d0200f605010202000c0201"
    "030e0b00f40503039e000015085c8fc2f528747e4000f40504025f00160bb81e85eb51fe8403035401003c010603"
    "80100af7281640008f02a901010000000104000001080101000140000108020101e5012c01010000000001080d00"
    "6962c1d0e3a432058ccfd9964c413e2f895947c0bc262a12a1191eb4a217ba0a148b010000f70100000700000056"
    "be42d628b52ffd60f7000d0c001414040804020112a0bcacfef962a09c01000000bfa907c0a907070a0205070509"
    "053b401a999ac3e7fe8fffe0010b62d8b62d8b6dc74f53d4f53d4dc3f7fecc5b16c5b16c3804e779d2749d27bc03"
    "ccbbc8f23c8f603bbfda3d70a3d70a3ed99c8721c8721c86c1c8721c8721c9af4c9b26c9b26c9ae0fa002749d274"
    "9d275e1fbfcd080000000003c00000390e4390e5c0373ff666df8555576e5f1bc6f1bc6f161eb851eb851ed7ae14"
    "7ae147aec3f7faed0ac2b0ac2b180000374dd374dd3807193939391919399d024d01060380100a991a40008705e4"
    "02010110000001c0080101000108a50101010110020044010101df340500eb03fc01010401d9010101012f0700d3"
    "02aa018000010200000102eb02260122320106018010056666104000df02d51816098fc2f5285c898c4000d20603"
    "037200000e0500d20602032100001a00744ab07af51ca44d2584adcc17d64e15dac161032beb24ba9c58a035e242"
    "81b5d005fad22c13614929b7821a0016904d700507818d0ada80855c0119ae000000a500000004000000e5fe9334"
    "28b52ffd20a5290500020a030bc0d8adfef962a09c010000040304060b204072e170a3d70a3ed995d73d4f53d4f3"
    "d1a7dd6851eb851ee13875c28f5c29001e405903d70a3d70a4e75d8561585614f5aba6e9ba6e9af4ae4290a4290b"
    "c01d40595e147ae147aee5644791e4791e79d9290a4290a43a8b22c8b22c8004003939392d0d01060180100400d2"
    "0602020d000e01060180100600d20602030d00000f01060180100b00d20602048300000008000000000000005b01"
    "00000700000003000000000000000068e5cf8b01000004000000000000000068e5cf8b0100006301000000000000"
    "9b010000070000000400000000000000108fe5cf8b0100000500000000000000108fe5cf8b010000fe0200000000"
    "0000be00000004000000050000000000000020b6e5cf8b0100000500000000000000502be6cf8b01000001000000"
    "0461636d6510270000dc4c00000000000012000000000000000068e5cf8b010000502be6cf8b010000bc03000000"
    "00000003000000290ec4883d0000004886573a4553504152544631";

Bytes from_hex(std::string_view hex) {
  Bytes b;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    b.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return b;
}

TEST(StorePartFormatTest, ReadsVersion1Parts) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/v1.part";
  const Bytes v1 = from_hex(kV1PartHex);
  testing::write_all(path, std::string(v1.begin(), v1.end()));
  auto part = PartReader::open(env::Env::posix(), path, /*verify_blocks=*/true);
  ASSERT_TRUE(part.ok()) << part.status().to_string();
  const auto expected = fixture_rows();
  EXPECT_EQ((*part)->meta().tenant, "acme");
  EXPECT_EQ((*part)->meta().rows, expected.size());
  ASSERT_EQ((*part)->index().size(), 3u);
  std::size_t at = 0;
  Bytes scratch;
  for (std::size_t b = 0; b < (*part)->index().size(); ++b) {
    auto block = (*part)->read_block(b);
    ASSERT_TRUE(block.ok()) << block.status().to_string();
    for (std::size_t i = 0; i < block->rows(); ++i, ++at) {
      ASSERT_LT(at, expected.size());
      const PartRow r = block->row(i, scratch);
      const PartRow& e = expected[at].row;
      EXPECT_EQ(r.series_id, e.series_id);
      EXPECT_EQ(r.window_start, e.window_start);
      EXPECT_EQ(r.count, e.count);
      EXPECT_EQ(std::bit_cast<std::uint64_t>(r.sum), std::bit_cast<std::uint64_t>(e.sum));
      EXPECT_EQ(std::bit_cast<std::uint64_t>(r.min), std::bit_cast<std::uint64_t>(e.min));
      EXPECT_EQ(std::bit_cast<std::uint64_t>(r.max), std::bit_cast<std::uint64_t>(e.max));
      EXPECT_EQ(to_hex(r.histogram), to_hex(expected[at].h)) << at;
      EXPECT_TRUE(r.distinct.empty());
      EXPECT_TRUE(r.topk.empty());
    }
  }
  EXPECT_EQ(at, expected.size());

  // What a merge does with an old part: its rows written again (format 2) read back the same.
  const std::string again = dir.path() + "/v2.part";
  {
    PartWriter w(env::Env::posix(), again, (*part)->meta(), 7, 9);
    for (std::size_t b = 0; b < (*part)->index().size(); ++b) {
      auto block = (*part)->read_block(b);
      ASSERT_TRUE(block.ok());
      for (std::size_t i = 0; i < block->rows(); ++i) {
        ASSERT_TRUE(w.add(block->row(i, scratch)).ok());
      }
    }
    std::uint64_t bytes = 0;
    ASSERT_TRUE(w.finish(bytes).ok());
    EXPECT_LT(bytes, v1.size());
  }
  auto rewritten = PartReader::open(env::Env::posix(), again, /*verify_blocks=*/true);
  ASSERT_TRUE(rewritten.ok()) << rewritten.status().to_string();
  at = 0;
  for (std::size_t b = 0; b < (*rewritten)->index().size(); ++b) {
    auto block = (*rewritten)->read_block(b);
    ASSERT_TRUE(block.ok()) << block.status().to_string();
    for (std::size_t i = 0; i < block->rows(); ++i, ++at) {
      const PartRow r = block->row(i, scratch);
      EXPECT_EQ(std::bit_cast<std::uint64_t>(r.sum),
                std::bit_cast<std::uint64_t>(expected[at].row.sum));
      EXPECT_EQ(std::bit_cast<std::uint64_t>(r.min),
                std::bit_cast<std::uint64_t>(expected[at].row.min));
      EXPECT_EQ(std::bit_cast<std::uint64_t>(r.max),
                std::bit_cast<std::uint64_t>(expected[at].row.max));
      EXPECT_EQ(to_hex(r.histogram), to_hex(expected[at].h)) << at;
    }
  }
  EXPECT_EQ(at, expected.size());
}

// The raw columns of fixture_rows() as one format-2 block (the zstd frame decompressed, so the
// layout is pinned independently of zstd's output).
constexpr const char* kV2RawColumnsHex =
    "060605020502052180a0abfef962a09c0100000000bfa907c0a90700000000bfa907c0a90700000000120102020b"
    "080b0a0a0205070509050304060b2002d860b30130db010016125b0a16011448000200000202028e9d0102633809"
    "1c1b22003a26b802f002d202029c02030a4d0b6002ac9f0113515e29262d32000000ff010b0500000000000132bc"
    "01d402002fc1010600000002000232e6024c294ce902520200020200021241414141194141414141414141410041"
    "414116150106018010085c8fc2f528747e4000f40504025f007b0a00000a00000a0000001a000006033a02000004"
    "026a0203cf0200820130082a183a0c005500546a0103c50500ce03563200082c08240000004a0300000000004a03"
    "f50300e201a0016e0000004a03d10200ac01722e00490040062a010000b00150a001003a01000002060a0000000a"
    "0000001a0000051a000003";

Bytes raw_columns(ByteSpan framed) {
  std::uint32_t rlen = 0;
  std::memcpy(&rlen, framed.data() + 4, 4);
  Bytes raw(rlen);
  const std::size_t n =
      ZSTD_decompress(raw.data(), raw.size(), framed.data() + kPartBlockHeaderBytes,
                      framed.size() - kPartBlockHeaderBytes);
  EXPECT_EQ(n, rlen);
  return raw;
}

TEST(StorePartFormatTest, Format2LayoutIsPinned) {
  const auto fixture = fixture_rows();
  std::vector<PartRow> rows;
  for (const auto& f : fixture) rows.push_back(f.row);
  Bytes framed;
  encode_part_block(rows, 3, framed);
  EXPECT_EQ(to_hex(raw_columns(framed)), kV2RawColumnsHex);
  // And it reads back row for row, with the canonical histogram bytes.
  auto block = decode_part_block(framed);
  ASSERT_TRUE(block.ok()) << block.status().to_string();
  ASSERT_EQ(block->rows(), fixture.size());
  Bytes scratch;
  for (std::size_t i = 0; i < fixture.size(); ++i) {
    const PartRow r = block->row(i, scratch);
    EXPECT_EQ(std::bit_cast<std::uint64_t>(r.sum),
              std::bit_cast<std::uint64_t>(fixture[i].row.sum));
    EXPECT_EQ(std::bit_cast<std::uint64_t>(r.min),
              std::bit_cast<std::uint64_t>(fixture[i].row.min));
    EXPECT_EQ(std::bit_cast<std::uint64_t>(r.max),
              std::bit_cast<std::uint64_t>(fixture[i].row.max));
    EXPECT_EQ(to_hex(r.histogram), to_hex(fixture[i].h)) << i;
  }
  // A format-2 block is not a format-1 block.
  EXPECT_FALSE(decode_part_block(framed, 1).ok());
  EXPECT_FALSE(decode_part_block(framed, 3).ok());
}

}  // namespace
}  // namespace edgesketch::store
