// HyperLogLog: a mergeable distinct-count sketch (sparse coupons for small sets, 6-bit dense
// registers above the break-even point, Ertl's improved estimator).
//
// Representation
// --------------
// p = precision (2^p = m registers), p' = p + 6 = sparse precision. A 64-bit key hash h gives
//   dense:  register index idx = top p bits of h,
//           rho = (leading zeros of the remaining 64 - p bits) + 1, in 1..64-p+1.
//   sparse: coupon index idx' = top p' bits of h,
//           rho' = (leading zeros of the remaining 64 - p' bits) + 1 when the low 6 bits of idx'
//           are zero, else 0 (canonical: the dense rho is then fixed by idx' alone).
// A coupon is the u32 (idx' << 6 | rho'). It maps to exactly the register a dense sketch would
// have: idx = idx' >> 6; rho = (leading zeros of the low 6 bits of idx') + 1 if they are not all
// zero, else 6 + rho'. So sparse -> dense conversion is exact, and the dense registers are
// bit-identical for any add order, merge order or grouping.
//
// A new sketch is sparse. It keeps its coupons as a sorted vector with one coupon per idx' (the
// largest rho'), found by binary search, plus a small unsorted buffer of coupons whose idx' is
// not in the vector yet (repeats allowed); the buffer is sorted and merged in when full
// (max(64, m / 128) coupons) or when the two together could exceed m / 4. The sketch becomes dense
// as soon as it holds more than m / 4 distinct idx' (the in-memory break-even of 4-byte coupons
// against 1-byte registers) and never goes back. With this fixed threshold the representation is a
// function of the inputs only: a merge result is dense iff one input is dense or the union has more
// than m / 4 coupons, whatever the order.
//
// Estimate: sparse -> linear counting over the 2^p' coupon buckets (near-exact below ~1e3 at
// p = 12); dense -> Otmar Ertl's improved raw estimator ("New cardinality estimation algorithms
// for HyperLogLog sketches", 2017), with a relative standard error of ~1.04 / sqrt(m) (1.63 % at
// p = 12) from 0 to far beyond 1e9. It uses the asymptotic alpha_inf = 1 / (2 ln 2), which
// leaves a relative bias of about +1.08 / m: 0.03 % at p = 12, but +7 % at p = 4 and +1.7 % at
// p = 6. A fully saturated sketch (every register at 64 - p + 1, far beyond 2^64 keys) reports
// the estimate of one register short of saturation instead of infinity.
//
// Serialized layout (version 1, little-endian; every size is in bytes)
// ----------------------------------------------------------------------
// | offset | size     | field                                                                  |
// |--------|----------|------------------------------------------------------------------------|
// | 0      | 1        | version = 1                                                            |
// | 1      | 1        | kind: 0 = sparse, 1 = dense                                            |
// | 2      | 1        | precision p, 4..18                                                     |
// | 3      | 8        | hash seed (u64)                                                        |
// | dense body                                                                                 |
// | 11     | 6·m / 8  | the m registers packed 6 bits each: register i is bits [6i, 6i + 6) of |
// |        |          | the bit stream, whose bit b is bit (b % 8) of byte b / 8. Values are   |
// |        |          | 0..64-p+1. Total 11 + 3072 = 3,083 bytes at p = 12.                    |
// | sparse body                                                                                |
// | 11     | varint   | n = number of coupons, 0..m/4                                          |
// | +      | 1        | Rice parameter k, 0..p' (absent when n = 0)                            |
// | +      | rest     | bit stream (same bit order as dense), for each coupon in increasing    |
// |        |          | idx' order: gap = idx'_i - idx'_(i-1) - 1 (with idx'_(-1) = -1) coded  |
// |        |          | as (gap >> k) zero bits, a one bit, then the low k bits of gap (LSB    |
// |        |          | first); then, only if the low 6 bits of idx' are zero, rho' in 6 bits |
// |        |          | (1..64-p'+1). Zero bits pad to the byte boundary; nothing follows.     |
// The gap coding makes the coupon indices strictly increasing by construction. The encoder picks
// the k (around log2 of the mean gap) that gives the fewest bits; the decoder accepts any k in
// range. About 175 bytes for 100 distinct keys at p = 12.
//
// The decoder treats its input as hostile: it never crashes, allocates at most ~m bytes or m / 4
// coupons, and rejects a bad version or kind, p out of range, truncation, trailing bytes,
// non-zero padding, coupon indices out of range, rho' or register values out of range and coupon
// counts above m / 4 with Status kCorruption.
//
// Thread safety: const methods may run concurrently; anything else needs external exclusion.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/sketch/hash.h"

namespace edgesketch::sketch {

struct HllOptions {
  // p: the sketch has 2^p one-byte registers when dense; relative standard error ~1.04/sqrt(2^p).
  // 4..18; merging needs equal precisions.
  int precision = 12;
  // Seed of hash_key(); sketches hashed with different seeds refuse to merge.
  std::uint64_t seed = kDefaultHashSeed;
};

class HyperLogLog {
 public:
  static constexpr int kMinPrecision = 4;
  static constexpr int kMaxPrecision = 18;
  static constexpr std::uint8_t kVersion = 1;
  // Sparse precision p' = p + kSparseExtraBits; a coupon keeps rho' in its low kRhoBits.
  static constexpr int kSparseExtraBits = 6;
  static constexpr int kRhoBits = 6;

  // OK if options can build a sketch; kInvalidArgument naming the bad field otherwise. For
  // config loaders: the constructor clamps a precision outside 4..18 into that range.
  static Status validate_options(const HllOptions& options);

  // An empty, sparse sketch. Allocates nothing until the first add.
  explicit HyperLogLog(HllOptions options = {});

  // Adds a key given its hash, which must be hash_key(key, seed()): the hot path for callers
  // that hash once for several sketches. No allocation once dense (sparse adds allocate
  // amortised O(1) while the coupon list grows).
  void add_hash(std::uint64_t hash);
  void add(std::string_view key) { add_hash(hash_key(key, seed_)); }

  // *this becomes the union of *this and other. kFailedPrecondition (naming both values) when
  // precision or seed differ; *this is unchanged then. Merging a sketch into itself is a no-op.
  Status merge(const HyperLogLog& other);
  // Same result and errors as merge(deserialize(bytes).value()), decoding and merging in one
  // pass. A dense input into a dense sketch never allocates more than 2^p bytes of scratch.
  // *this is unchanged on any error (kCorruption before kFailedPrecondition).
  Status merge_serialized(ByteSpan bytes);

  // Estimated number of distinct keys added (0 for an empty sketch).
  double estimate() const;

  bool is_sparse() const { return registers_.empty(); }
  int precision() const { return p_; }
  std::uint64_t seed() const { return seed_; }

  // The 2^p dense registers, materialized from the coupons while sparse.
  std::vector<std::uint8_t> dense_registers() const;

  // Appends the serialized sketch (layout above) to out.
  void serialize(Bytes& out) const;
  Bytes serialize() const;
  // Decodes bytes written by serialize(); kCorruption with a message saying what is wrong.
  static Result<HyperLogLog> deserialize(ByteSpan bytes);

  // Equal precision, seed, representation (sparse/dense) and content.
  friend bool operator==(const HyperLogLog& a, const HyperLogLog& b);

  // Bytes of memory held by this sketch, including the object itself.
  std::size_t memory_bytes() const;

 private:
  std::size_t num_registers() const { return std::size_t{1} << p_; }
  // A sparse sketch holding more distinct coupons than this turns dense.
  std::size_t sparse_limit() const { return num_registers() / 4; }
  // buffer_ is merged into coupons_ at this size: a merge moves O(sparse_limit()) coupons, and
  // this makes it happen at most ~32 times (plus repeats) before the sketch turns dense.
  std::size_t buffer_capacity() const { return std::max<std::size_t>(64, sparse_limit() / 32); }

  void add_sparse(std::uint64_t hash);
  // Sorts and dedupes buffer_ and merges it into coupons_; turns dense past the limit.
  void compact_buffer();
  // All coupons, sorted by idx', one per idx'. Sparse only.
  std::vector<std::uint32_t> sorted_coupons() const;
  // Unions a sorted, unique coupon list into *this, turning dense past the limit.
  void merge_sorted_coupons(std::span<const std::uint32_t> coupons);
  // Unions 2^p registers into *this, turning dense.
  void merge_registers(const std::uint8_t* registers);
  // Turns a sparse sketch dense with exactly the registers its coupons imply.
  void convert_to_dense();
  Status check_compatible(int precision, std::uint64_t seed, std::string_view what) const;

  int p_;
  std::uint64_t seed_;
  // Dense: 2^p registers. Empty while sparse.
  std::vector<std::uint8_t> registers_;
  // Sparse: coupons sorted by idx', one per idx'.
  std::vector<std::uint32_t> coupons_;
  // Sparse: coupons whose idx' is not in coupons_, unsorted, possibly repeated.
  std::vector<std::uint32_t> buffer_;
};

inline void HyperLogLog::add_hash(std::uint64_t hash) {
  if (!registers_.empty()) [[likely]] {
    // The sentinel bit caps rho at 64 - p + 1 when the remaining bits are all zero.
    const std::uint64_t rest = (hash << p_) | (std::uint64_t{1} << (p_ - 1));
    const auto rho = static_cast<std::uint8_t>(std::countl_zero(rest) + 1);
    std::uint8_t& reg = registers_[hash >> (64 - p_)];
    if (rho > reg) reg = rho;
  } else {
    add_sparse(hash);
  }
}

}  // namespace edgesketch::sketch
