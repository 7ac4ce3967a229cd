// The bucket-block packing of serialized ExpHistograms (layout in exp_histogram.h): 8 counts of
// w bits, LSB-first, after a width byte. Shared by the sketch's codec and the collector's
// HistogramMerger, which decode the same bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace edgesketch::sketch::detail {

// Unpacks the 8 counts of one block of width w <= 64 from p, where `avail` >= w bytes are
// readable (no byte past p + avail is read).
inline void exp_hist_unpack_block(const std::uint8_t* p, std::size_t avail, unsigned w,
                                  std::uint64_t v[8]) {
  if (w <= 8) [[likely]] {
    // One load holds all 8 counts; bytes past the block are never shifted in.
    std::uint64_t x = 0;
    if (avail >= 8) [[likely]] {
      std::memcpy(&x, p, 8);
    } else {
      for (unsigned i = 0; i < w; ++i) x |= std::uint64_t{p[i]} << (8 * i);
    }
    const std::uint64_t mask = (std::uint64_t{1} << w) - 1;
    for (unsigned k = 0; k < 8; ++k) v[k] = (x >> (k * w)) & mask;
    return;
  }
  if (w <= 56) {
    // Count k starts at bit k·w: one unaligned 8-byte load at its byte covers it.
    std::uint8_t padded[72] = {};
    if (avail < w + 8) {
      std::memcpy(padded, p, w);
      p = padded;
    }
    const std::uint64_t mask = (std::uint64_t{1} << w) - 1;
    for (unsigned k = 0; k < 8; ++k) {
      const unsigned bit = k * w;
      std::uint64_t x;
      std::memcpy(&x, p + bit / 8, 8);
      v[k] = (x >> (bit % 8)) & mask;
    }
    return;
  }
  using u128 = unsigned __int128;
  const std::uint64_t mask = w == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << w) - 1;
  u128 acc = 0;
  unsigned bits = 0;
  for (unsigned k = 0; k < 8; ++k) {
    while (bits < w) {
      acc |= static_cast<u128>(*p++) << bits;
      bits += 8;
    }
    v[k] = static_cast<std::uint64_t>(acc) & mask;
    acc >>= w;
    bits -= w;
  }
}

}  // namespace edgesketch::sketch::detail
