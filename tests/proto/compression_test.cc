// Compressed window batch payloads (wire/compression.h): round trips, the size bound on the
// decompressed bytes, and hostile frames.
#include <gtest/gtest.h>

#include <zstd.h>

#include <random>

#include "edgesketch/wire/codec.h"
#include "edgesketch/wire/compression.h"
#include "wire_fixtures.h"

namespace edgesketch::wire {
namespace {

using testing::kNowMs;

TEST(WireCompression, CompressedBatchDecodesToTheSameBatchAndIsSmaller) {
  const WindowBatch batch = testing::sample_window_batch();
  const Bytes raw = encode_window_batch(batch);
  ASSERT_FALSE(is_compressed_payload(raw));  // canonical protobuf starts with field 1
  EXPECT_EQ(raw[0], 0x08);
  const Bytes z = compress_window_batch(raw);
  ASSERT_TRUE(is_compressed_payload(z));
  auto decoded = decode_window_batch(z, Limits{}, kNowMs);
  ASSERT_TRUE(decoded.ok()) << decoded.status().to_string();
  EXPECT_EQ(*decoded, batch);
  // Series keys repeat from record to record: a batch of many records shrinks a lot.
  WindowBatch big = batch;
  for (int i = 0; i < 200; ++i) big.records.push_back(batch.records[i % batch.records.size()]);
  big.records.erase(big.records.begin(), big.records.begin() + batch.records.size());
  const Bytes big_raw = encode_window_batch(big);
  EXPECT_LT(compress_window_batch(big_raw).size() * 2, big_raw.size());
}

TEST(WireCompression, DecompressedSizeIsBoundedByMaxPayloadBytes) {
  const Bytes raw = encode_window_batch(testing::sample_window_batch());
  const Bytes z = compress_window_batch(raw);
  Limits limits;
  limits.max_payload_bytes = raw.size() - 1;  // the frame fits, its content does not
  ASSERT_LE(z.size(), limits.max_payload_bytes);
  auto r = decode_window_batch(z, limits, kNowMs);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(error_reason(r.status()), ErrorReason::kPayloadTooLarge) << r.status().to_string();
  // A tiny frame claiming a huge content (a zip bomb) is refused before any allocation.
  Bytes zeros(64u << 20, 0);
  const Bytes bomb = compress_window_batch(zeros, 1);
  EXPECT_LT(bomb.size(), 64u << 10);
  r = decode_window_batch(bomb, Limits{}, kNowMs);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(error_reason(r.status()), ErrorReason::kPayloadTooLarge);
}

TEST(WireCompression, HostileFramesAreRejectedWithAReason) {
  const Bytes raw = encode_window_batch(testing::sample_window_batch());
  const Bytes z = compress_window_batch(raw);
  auto reason = [](ByteSpan b) {
    auto r = decode_window_batch(b, Limits{}, kNowMs);
    return r.ok() ? ErrorReason::kUnknown : error_reason(r.status());
  };
  // Trailing bytes after the frame, a second frame, a truncated frame.
  Bytes trailing = z;
  trailing.push_back(0);
  EXPECT_EQ(reason(trailing), ErrorReason::kBadCompression);
  Bytes two = z;
  two.insert(two.end(), z.begin(), z.end());
  EXPECT_EQ(reason(two), ErrorReason::kBadCompression);
  for (std::size_t n = 4; n < z.size(); ++n) {
    EXPECT_NE(reason(ByteSpan(z.data(), n)), ErrorReason::kUnknown) << "cut at " << n;
  }
  // A frame without its content size (streamed).
  Bytes streamed(ZSTD_compressBound(raw.size()));
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_outBuffer out{streamed.data(), streamed.size(), 0};
  ZSTD_inBuffer in{raw.data(), raw.size(), 0};
  // Streaming input of unknown size: zstd cannot write the content size into the header.
  ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_continue);
  while (ZSTD_compressStream2(cctx, &out, &in, ZSTD_e_end) != 0) {
  }
  ZSTD_freeCCtx(cctx);
  streamed.resize(out.pos);
  ASSERT_TRUE(is_compressed_payload(streamed));
  EXPECT_EQ(reason(streamed), ErrorReason::kBadCompression);
  // Every single bit flip: an error with a reason (the frame checksum catches the content), or
  // by chance still the same batch.
  for (std::size_t i = 0; i < z.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes f = z;
      f[i] ^= static_cast<std::uint8_t>(1u << bit);
      auto r = decode_window_batch(f, Limits{}, kNowMs);
      if (r.ok()) {
        EXPECT_EQ(encode_window_batch(*r),
                  encode_window_batch(*decode_window_batch(z, Limits{}, kNowMs)))
            << "flip " << i << ":" << bit;
      } else {
        EXPECT_NE(error_reason(r.status()), ErrorReason::kUnknown) << r.status().to_string();
      }
    }
  }
  // Random bytes behind the magic.
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    Bytes b = {0x28, 0xB5, 0x2F, 0xFD};
    const std::size_t n = rng() % 64;
    for (std::size_t k = 0; k < n; ++k) b.push_back(static_cast<std::uint8_t>(rng()));
    EXPECT_NE(reason(b), ErrorReason::kUnknown);
  }
}

}  // namespace
}  // namespace edgesketch::wire
