// ExpHistogram's serialized layout (documented in exp_histogram.h) in pieces: the header and store
// readers, the one bucket-block decoder, and the one encoder. Internal to es_sketch: ExpHistogram
// (deserialize, validate, merge_serialized, serialize) and ExpHistogramAccumulator are built on
// these, so they accept and write the same bytes by construction.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/sketch/exp_histogram.h"

namespace edgesketch::sketch::exp_hist_codec {

using u128 = unsigned __int128;

inline constexpr std::uint8_t kFlagPositive = 1;  // flag bit k <=> store k is present
inline constexpr std::uint8_t kKnownFlags = 3;
inline constexpr std::int32_t kMinIndex8 = -1022 * 256 - 1;  // scale-8 bucket of 2^-1022
inline constexpr std::int32_t kMaxIndex8 =
    1023 * 256 + 255;  // scale-8 bucket of the largest double
inline constexpr const char* kStoreName[2] = {"positive", "negative"};
// The header's encoded size at most: 3 bytes, 2 varints of up to 10, 3 doubles, 1 varint.
inline constexpr std::size_t kMaxHeaderBytes = 3 + 10 + 10 + 24 + 10;
// A store header's encoded size at most (svarint offset, varint n).
inline constexpr std::size_t kMaxStoreHeaderBytes = 20;

// kCorruption with the "histogram: " prefix every decoding error carries.
Status corrupt(const std::string& what);

// What precedes the stores. min and max are +inf and -inf when count is 0 (the empty sketch's
// internal values); sum is then 0.
struct Header {
  int scale = 0;
  std::uint8_t flags = 0;
  std::int32_t max_buckets = 0;
  std::uint64_t count = 0;
  double sum = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  std::uint64_t zero_count = 0;

  bool has_store(int k) const { return (flags & (kFlagPositive << k)) != 0; }
};

// Reads and checks the header (version, scale, flags, max_buckets, min/max, counts).
Status read_header(ByteReader& r, Header& h);

// The first bucket index and bucket count of a present store.
struct StoreHeader {
  std::int32_t offset = 0;
  std::uint32_t n = 0;
};

// Reads and checks the header of store `store` (0 positive, 1 negative): 1..max_buckets buckets
// within the finite doubles at the header's scale, and at least one input byte per 8 of them
// left (so that nobody allocates for buckets the input cannot hold).
Status read_store_header(ByteReader& r, const Header& h, int store, StoreHeader& sh);

// The first and last buckets of a store are non-empty.
struct BlockStats {
  u128 total = 0;            // sum of the counts read
  std::uint64_t first = 0;   // count of bucket 0
  std::uint64_t last = 0;    // count of bucket n - 1 (when every block was read)
  std::uint32_t blocks = 0;  // blocks passed to the sink, also when an error stopped the read
};
Status check_store_ends(const BlockStats& st, int store);
// After the last store: no trailing bytes, and the bucket counts add up to count - zero_count.
Status check_totals(const ByteReader& r, u128 bucket_total, const Header& h);

// Unpacks the 8 counts of one block of width w <= 64 from p, where `avail` >= w bytes are
// readable (no byte past p + avail is read).
inline void unpack_block(const std::uint8_t* p, std::size_t avail, unsigned w, std::uint64_t v[8]) {
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

// The block decoder: reads the blocks of an n-bucket store (at most max_blocks of them; n is
// checked by read_store_header) and calls sink(i, count) for every bucket i of each block that
// decoded cleanly, in order. Rejects widths above 64, truncation and non-zero padding.
template <typename Sink>
Status read_blocks(ByteReader& r, int store, std::uint32_t n, std::uint32_t max_blocks,
                   BlockStats& st, Sink&& sink) {
  const std::uint8_t* const start = r.position();
  const std::uint8_t* const end = start + r.remaining();
  const std::uint8_t* p = start;
  const std::uint32_t all_blocks = (n + 7) / 8;
  const std::uint32_t num_blocks = std::min(all_blocks, max_blocks);
  std::uint64_t narrow_total = 0;  // counts of width <= 8: below 2^16 * 2^8, cannot overflow
  u128 total = 0;
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  for (std::uint32_t b = 0; b < num_blocks; ++b) {
    st.blocks = b;
    if (p == end) {
      return corrupt(std::string("truncated ") + kStoreName[store] + " bucket block " +
                     std::to_string(b));
    }
    const unsigned w = *p++;
    const auto avail = static_cast<std::size_t>(end - p);
    if (w > 64 || avail < w) {
      return corrupt(std::string(w > 64 ? "bad width in " : "truncated ") + kStoreName[store] +
                     " bucket block " + std::to_string(b));
    }
    const std::uint32_t i = b * 8;
    if (w <= 8 && avail >= 8 && n - i >= 8) [[likely]] {
      // The common case, fused: one load holds all 8 counts (bytes past the block are never
      // shifted in), each count goes straight to the sink.
      std::uint64_t x;
      std::memcpy(&x, p, 8);
      const std::uint64_t mask = (std::uint64_t{1} << w) - 1;
      std::uint64_t c0 = x & mask;
      std::uint64_t c = c0;
      for (unsigned k = 0; k < 8; ++k) {
        c = x & mask;
        x >>= w;
        sink(i + k, c);
        narrow_total += c;
      }
      if (b == 0) first = c0;
      last = c;
    } else if (w <= 56 && avail >= w + 8 && n - i >= 8) [[likely]] {
      // Wider full blocks (counts above 255, as in merged histograms), fused the same way: count
      // k starts at bit k·w, inside one unaligned 8-byte load at its byte (the load stays within
      // the block and the 8 bytes after it). 8 counts below 2^56 sum without overflow in 64 bits.
      const std::uint64_t mask = (std::uint64_t{1} << w) - 1;
      std::uint64_t block_total = 0;
      std::uint64_t c = 0;
      for (unsigned k = 0; k < 8; ++k) {
        const unsigned bit = k * w;
        std::uint64_t x;
        std::memcpy(&x, p + bit / 8, 8);
        c = (x >> (bit % 8)) & mask;
        if (k == 0 && b == 0) first = c;
        sink(i + k, c);
        block_total += c;
      }
      total += block_total;
      last = c;
    } else {
      std::uint64_t v[8];
      unpack_block(p, avail, w, v);
      const std::uint32_t valid = std::min<std::uint32_t>(8, n - i);
      for (std::uint32_t k = valid; k < 8; ++k) {
        if (v[k] != 0) {
          return corrupt(std::string("non-zero padding in ") + kStoreName[store] + " store");
        }
      }
      for (std::uint32_t k = 0; k < valid; ++k) {
        sink(i + k, v[k]);
        total += v[k];
      }
      if (b == 0) first = v[0];
      last = v[valid - 1];
    }
    p += w;
  }
  st.blocks = num_blocks;
  st.total = total + narrow_total;
  st.first = first;
  st.last = num_blocks == all_blocks ? last : 0;
  r.bytes(static_cast<std::size_t>(p - start));
  return Status::ok_status();
}

// Blocks of a store at most.
inline constexpr std::uint32_t kMaxBlocks = ExpHistogram::kMaxMaxBuckets / 8;

// Width in bits of the largest of the k <= 8 counts at c (0 when all are 0).
template <typename Counter>
unsigned block_width(const Counter* c, std::uint32_t k) {
  std::uint64_t all = 0;
  if (k == 8) [[likely]] {
    for (std::uint32_t j = 0; j < 8; ++j) all |= c[j];  // unrolled
  } else {
    for (std::uint32_t j = 0; j < k; ++j) all |= c[j];
  }
  return static_cast<unsigned>(std::bit_width(all));
}

// Fills widths[b] with the width of block b of the n counts at c (n <= max_buckets) and returns
// the bytes the blocks take.
template <typename Counter>
std::size_t block_widths(const Counter* c, std::uint32_t n, std::uint8_t* widths) {
  std::size_t total = 0;
  for (std::uint32_t b = 0; b * 8 < n; ++b) {
    const unsigned w = block_width(c + 8 * b, std::min<std::uint32_t>(8, n - 8 * b));
    widths[b] = static_cast<std::uint8_t>(w);
    total += 1 + w;
  }
  return total;
}

// The block encoder: appends the n counts at c (std::uint8_t or std::uint64_t counters) as
// blocks of 8 at the smallest width that holds each block, LSB-first; widths and size come from
// block_widths().
template <typename Counter>
void put_blocks(Bytes& out, const Counter* c, std::uint32_t n, const std::uint8_t* widths,
                std::size_t size) {
  const std::size_t at = out.size();
  out.resize(at + size + 16);  // zeros, and slack for the 8- and 16-byte stores below
  std::uint8_t* p = out.data() + at;
  for (std::uint32_t b = 0; b * 8 < n; ++b) {
    const unsigned w = widths[b];
    *p++ = static_cast<std::uint8_t>(w);
    if (w == 0) continue;
    const std::uint32_t valid = std::min<std::uint32_t>(8, n - 8 * b);
    const Counter* v = c + 8 * b;
    if (sizeof(Counter) == 1 || w <= 8) {
      std::uint64_t x = 0;
      for (std::uint32_t k = 0; k < valid; ++k) x |= std::uint64_t{v[k]} << (k * w);
      std::memcpy(p, &x, 8);
    } else {
      for (std::uint32_t k = 0; k < valid; ++k) {
        const unsigned bit = k * w;
        u128 x;
        std::memcpy(&x, p + bit / 8, 16);
        x |= static_cast<u128>(v[k]) << (bit % 8);
        std::memcpy(p + bit / 8, &x, 16);
      }
    }
    p += w;
  }
  out.resize(at + size);
}

// Appends the header with these flags (h.flags is not read).
void put_header(Bytes& out, const Header& h, std::uint8_t flags);

// The encoder: appends a whole histogram, header `h` and the counts of each store k, n[k] <=
// max_buckets of them from index offset[k] (n[k] = 0: store absent); one output allocation at
// most.
template <typename Counter>
void put_histogram(Bytes& out, const Header& h, const std::int32_t offset[2],
                   const Counter* const counts[2], const std::uint32_t n[2]) {
  std::uint8_t widths[2][kMaxBlocks];
  std::size_t size[2] = {0, 0};
  std::uint8_t flags = 0;
  std::size_t total = kMaxHeaderBytes + 16;
  for (int k = 0; k < 2; ++k) {
    if (n[k] == 0) continue;
    flags |= static_cast<std::uint8_t>(kFlagPositive << k);
    size[k] = block_widths(counts[k], n[k], widths[k]);
    total += kMaxStoreHeaderBytes + size[k];
  }
  if (out.capacity() - out.size() < total) {
    out.reserve(std::max(out.size() + total, 2 * out.capacity()));  // appends stay amortized
  }
  put_header(out, h, flags);
  for (int k = 0; k < 2; ++k) {
    if (n[k] == 0) continue;
    put_svarint(out, offset[k]);
    put_varint(out, n[k]);
    put_blocks(out, counts[k], n[k], widths[k], size[k]);
  }
}

}  // namespace edgesketch::sketch::exp_hist_codec
