// Base-2 exponential histogram: the mergeable quantile sketch of edgesketch, with a relative-error
// guarantee and the bucket layout of OpenTelemetry exponential / Prometheus native histograms.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <vector>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"

namespace edgesketch::sketch {

struct ExpHistogramOptions {
  // Initial and highest scale: bucket base γ = 2^(2^-scale), relative error (γ-1)/(γ+1)
  // (0.54 % at 6). Clamped to [ExpHistogram::kMinScale, ExpHistogram::kMaxScale].
  int scale = 6;
  // Per store (positive, negative): the largest index span (highest - lowest non-empty bucket
  // + 1) kept before the whole sketch lowers its scale. 2,048 holds ~9.6 decades at scale 6.
  // Clamped to [ExpHistogram::kMinMaxBuckets, ExpHistogram::kMaxMaxBuckets].
  int max_buckets = 2048;
};

namespace detail {

// Lookup tables of the scale-8 bucket index, computed from x = bits(v) - 1. Generated with exact
// integer arithmetic and verified by the unit test. One object, so the hot path needs one base.
struct ExpHistIndexTables {
  // boundary[k] (k = 1..255): mantissa field of the largest double below 2^(k/256) in [1, 2);
  // [0] = 0, [256] = 2^52 (a sentinel above every mantissa).
  std::array<std::uint64_t, 257> boundary;
  // sub_index[j] = number of boundaries k >= 1 with boundary[k] <= j << 43: the scale-8
  // sub-bucket at the start of each of 512 mantissa cells. A cell holds at most one boundary,
  // so one comparison finishes the lookup.
  std::array<std::uint8_t, 512> sub_index;
};
extern const ExpHistIndexTables kExpHistTables;

// True when x = bits(v) - 1 belongs to a finite v with |v| >= 2^-1022 (normal, non-zero).
inline bool exp_hist_is_normal(std::uint64_t x) {
  constexpr std::uint64_t kAbs = ~(std::uint64_t{1} << 63);
  constexpr std::uint64_t kMinNormalMinus1 = 0x000fffffffffffffull;  // bits(2^-1022) - 1
  constexpr std::uint64_t kNormals = 0x7fe0000000000000ull;          // doubles in [2^-1022, max]
  return (x & kAbs) - kMinNormalMinus1 < kNormals;
}

// Scale-8 bucket index ceil(log2|v| * 256) - 1 of a normal v, from x = bits(v) - 1, computed
// exactly from the exponent and mantissa. Working on bits - 1 turns the upper-inclusive bucket
// (γ^i, γ^(i+1)] into a lower-inclusive one: an exact power of two borrows from the exponent and
// lands in the bucket below, with no special case. The index at scale s <= 8 is this value
// >> (8 - s) (arithmetic shift: floor), because coarser boundaries are a subset.
inline std::int32_t exp_hist_index8(std::uint64_t x) {
  const std::uint64_t mantissa = x & ((std::uint64_t{1} << 52) - 1);
  std::uint32_t sub = kExpHistTables.sub_index[mantissa >> 43];
  sub += mantissa >= (kExpHistTables.boundary.data() + 1)[sub] ? 1u : 0u;
  const auto exponent_x256 = static_cast<std::int32_t>((x >> 44) & 0x7ff00);  // biased
  return exponent_x256 + static_cast<std::int32_t>(sub) - 1023 * 256;
}

// Index range [lo, hi] of a store's non-empty buckets; empty when hi < lo.
struct ExpHistRange {
  std::int32_t lo = 0;
  std::int32_t hi = -1;
  bool empty() const { return hi < lo; }
};

// The counts of one sign. Owns a buffer with slack on both sides so that growth is amortized;
// only [lo, lo + span) may be non-zero. Counters are one byte each while the histogram is narrow
// (every count fits: a histogram of a few hundred values per window needs an eighth of the
// memory) and eight bytes once it is wide; ExpHistogram widens both stores together. The buffer
// is a vector of words either way, read bytewise when narrow. Internal to ExpHistogram and
// ExpHistogramAccumulator (which keeps its stores wide).
struct ExpHistStore {
  // How much room reserve_range() leaves when the buffer has to grow. kAdds: values arrive one
  // at a time and extend the range a bucket at a time, so each growing side gets half the range
  // again. kMerges: whole histograms arrive (an accumulator, of which a scan keeps thousands):
  // an empty store takes what it needs, a growing one a quarter more.
  enum class Growth { kAdds, kMerges };

  unsigned char* at_lo = nullptr;  // counter of bucket lo when span > 0 (the hot path's pointer)
  std::int32_t lo = 0;             // lowest non-empty index; meaningful when span > 0
  std::uint32_t span = 0;          // highest - lowest non-empty index + 1; 0 when empty
  std::vector<std::uint64_t> buf;  // counters of indices [base, base + capacity())
  std::int32_t base = 0;
  bool wide = false;  // 8-byte counters (else 1-byte)

  ExpHistStore() = default;
  ExpHistStore(const ExpHistStore& o)
      : lo(o.lo), span(o.span), buf(o.buf), base(o.base), wide(o.wide) {
    fix_pointer();
  }
  ExpHistStore& operator=(const ExpHistStore& o) {
    if (this != &o) {
      lo = o.lo;
      span = o.span;
      buf = o.buf;
      base = o.base;
      wide = o.wide;
      fix_pointer();
    }
    return *this;
  }
  ExpHistStore(ExpHistStore&&) noexcept = default;  // the buffer, and at_lo with it, moves
  ExpHistStore& operator=(ExpHistStore&&) noexcept = default;

  std::int32_t hi() const { return lo + static_cast<std::int32_t>(span) - 1; }
  ExpHistRange range() const { return span ? ExpHistRange{lo, hi()} : ExpHistRange{}; }
  std::size_t counter_bytes() const { return wide ? 8 : 1; }
  // Buckets the buffer holds.
  std::size_t capacity() const { return wide ? buf.size() : 8 * buf.size(); }
  unsigned char* bytes() { return reinterpret_cast<unsigned char*>(buf.data()); }
  const unsigned char* bytes() const { return reinterpret_cast<const unsigned char*>(buf.data()); }
  // The counter of bucket lo when wide (nullptr when empty).
  const std::uint64_t* wide_at_lo() const { return span ? buf.data() + (lo - base) : nullptr; }
  // Count of bucket `index`, which the buffer covers.
  std::uint64_t get(std::int32_t index) const {
    const std::size_t i = static_cast<std::size_t>(index - base);
    return wide ? buf[i] : bytes()[i];
  }
  // Adds n to bucket `index`, which the buffer covers; a narrow counter must not pass 255.
  void add_at(std::int32_t index, std::uint64_t n) {
    const std::size_t i = static_cast<std::size_t>(index - base);
    if (wide) {
      buf[i] += n;
    } else {
      bytes()[i] = static_cast<unsigned char>(bytes()[i] + n);
    }
  }
  // Sets the non-empty range; the buffer must cover it.
  void set_range(std::int32_t new_lo, std::int32_t new_hi) {
    lo = new_lo;
    span = static_cast<std::uint32_t>(new_hi - new_lo + 1);
    fix_pointer();
  }
  void fix_pointer() {
    at_lo = span ? bytes() + static_cast<std::size_t>(lo - base) * counter_bytes() : nullptr;
  }
  // Makes the buffer cover [new_lo, new_hi] (and the current range); contents unchanged. An
  // empty store whose buffer is large enough moves it instead of growing it.
  void reserve_range(std::int32_t new_lo, std::int32_t new_hi, Growth growth = Growth::kAdds);
  // Maps every index i to i >> d, adding counts that meet (narrow: the sums must fit). In
  // place: allocates nothing.
  void downscale(int d);
  // Empties the store; keeps the buffer.
  void clear();
  // Narrow to wide, same counts.
  void widen();
};

// Smallest d >= 0 with (hi >> d) - (lo >> d) + 1 <= max_buckets.
int exp_hist_extra_downscale(std::int32_t lo, std::int32_t hi, std::int32_t max_buckets);

// The merge rule (ExpHistogram::merge() and ExpHistogramAccumulator): the steps by which a
// histogram at `scale` whose stores span `into` lowers its scale to take in one at `from_scale`
// whose stores span `from`, with max_buckets per store: down to the common scale, then as many
// more as the union of either sign's ranges needs. The other histogram's buckets then map by
// i >> (from_scale - (scale - steps)). Why any merge order gives the same sketch: see
// ExpHistogram's class comment.
int exp_hist_merge_downscale(int scale, const ExpHistRange into[2], int from_scale,
                             const ExpHistRange from[2], std::int32_t max_buckets);

}  // namespace detail

// Read-only view of the bucket counts of one store, whatever width they are kept in. Valid until
// the next non-const call on the histogram. A range of std::uint64_t (size(), operator[],
// begin()/end()).
class ExpHistCounts {
 public:
  class iterator {
   public:
    using value_type = std::uint64_t;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(const ExpHistCounts* c, std::size_t i) : c_(c), i_(i) {}
    std::uint64_t operator*() const { return (*c_)[i_]; }
    iterator& operator++() {
      ++i_;
      return *this;
    }
    iterator operator++(int) {
      iterator old = *this;
      ++i_;
      return old;
    }
    friend bool operator==(const iterator& a, const iterator& b) { return a.i_ == b.i_; }

   private:
    const ExpHistCounts* c_ = nullptr;
    std::size_t i_ = 0;
  };

  ExpHistCounts() = default;
  ExpHistCounts(const unsigned char* data, std::size_t size, bool wide)
      : data_(data), size_(size), wide_(wide) {}

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::uint64_t operator[](std::size_t i) const {
    if (!wide_) return data_[i];
    std::uint64_t v;
    std::memcpy(&v, data_ + 8 * i, sizeof v);
    return v;
  }
  iterator begin() const { return iterator(this, 0); }
  iterator end() const { return iterator(this, size_); }

 private:
  const unsigned char* data_ = nullptr;
  std::size_t size_ = 0;
  bool wide_ = false;
};

struct ExpHistParts;
class ExpHistogramAccumulator;

// A quantile sketch over doubles with exact count/sum/min/max.
//
// Buckets. At scale s the base is γ = 2^(2^-s); a positive value v lands in bucket
// i = ceil(log2(v) * 2^s) - 1, which covers (γ^i, γ^(i+1)] (OpenTelemetry / Prometheus layout).
// Negative values land in the negative store by |v|. ±0 and subnormals (|v| < 2^-1022) are counted
// in the zero bucket. NaN and ±inf are ignored by add() (count, sum, min, max unchanged): callers
// that care filter and count them. The index comes from the IEEE-754 exponent, a table on the top
// mantissa bits and one comparison: exact, deterministic, no log().
//
// Downscaling. When a store's index span would exceed max_buckets, the whole sketch (both stores)
// lowers its scale by one (i -> i >> 1, floor for negative indices; counts that meet add up) until
// it fits. So the scale is always the largest scale <= the initial one at which all data fits,
// and buckets, count, zero count, min and max are bit-identical for any insertion order and any
// merge order or grouping (sum is equal up to floating-point rounding). The relative error bound
// doubles (roughly) with each step down.
//
// Quantiles. quantile(φ) returns an estimate of sorted[floor(φ·(count-1))] (0-based, lower
// nearest rank) within relative error relative_error_bound() of the current scale (up to a few
// ulps of rounding), for values with |v| >= 2^-1022: the bucket holding that rank answers with
// 2γ^(i+1)/(γ+1) (sign applied), the zero bucket with 0, clamped to [min, max]. Rank 0 and
// rank count-1 return min and max exactly.
//
// Serialized layout (version 1, little-endian; varint = LEB128, svarint = zig-zag varint):
//   | field           | encoding | notes                                                       |
//   |-----------------|----------|-------------------------------------------------------------|
//   | version         | u8       | 1                                                           |
//   | scale           | i8       | -4..8                                                       |
//   | flags           | u8       | bit 0: positive store follows, bit 1: negative store        |
//   |                 |          | follows; other bits 0. A store is present iff non-empty.    |
//   | max_buckets     | varint   | 128..65536                                                  |
//   | count           | varint   | all added values (zero bucket and both stores)              |
//   | sum, min, max   | 3 × f64  | only when count > 0; min <= max, both finite                |
//   | zero_count      | varint   |                                                             |
//   | per present store, positive first:                                                     |
//   |   offset        | svarint  | index of the first bucket (its count is non-zero)           |
//   |   n             | varint   | buckets, 1..max_buckets (the last one is non-zero)          |
//   |   ceil(n/8) blocks of 8 counts:                                                        |
//   |     width w     | u8       | 0..64 bits per count; w = 0: eight empty buckets, no bytes  |
//   |     packed      | w bytes  | the 8 counts, w bits each, LSB-first; past n: zero padding  |
// The decoder rejects anything else: wrong version, truncation, trailing bytes, scale, flags or
// max_buckets out of range, buckets outside the index range of finite doubles at that scale,
// bucket counts that do not add up to count - zero_count (overflow-checked), empty end buckets.
// It allocates at most 8 bytes per bucket, and only after checking that the remaining input can
// hold that many buckets (one width byte per 8).
//
// Memory. Bucket counters take one byte each until a count would pass 255; then both stores
// switch to 8-byte counters (a representation change only: nothing observable depends on it).
// merge() and merge_serialized() switch when the combined count passes 255, deserialize() when
// the decoded count does. A window of a few hundred values spread over ~500 buckets thus takes
// well under 1 KB instead of ~6 KB.
//
// Thread safety: thread-compatible (const methods may run concurrently; anything else needs
// external synchronization).
class ExpHistogram {
 public:
  static constexpr int kMinScale = -4;
  static constexpr int kMaxScale = 8;
  // At scale -4 every finite double fits in 128 buckets, so downscaling always terminates.
  static constexpr int kMinMaxBuckets = 128;
  static constexpr int kMaxMaxBuckets = 1 << 16;
  static constexpr std::uint8_t kSerialVersion = 1;

  explicit ExpHistogram(ExpHistogramOptions options = {});

  // Adds one value. Hot path (~3 ns): integer operations on the IEEE-754 bits and two small
  // table lookups; allocates only when the value extends a store's range past its buffer
  // (amortized), downscales when the range would exceed max_buckets.
  void add(double v);
  // Adds n copies of v (n = 0: no-op); sum() gains v·n. The caller keeps count() < 2^64.
  void add(double v, std::uint64_t n);

  // Adds everything in `other` (any scale, any max_buckets), as if all its values had been
  // added to *this; O(buckets). The result keeps this sketch's max_buckets. Fails with kOutOfRange,
  // leaving *this unchanged, when the combined count would overflow 64 bits. other may be *this.
  Status merge(const ExpHistogram& other);
  // merge(deserialize(bytes)) without building the other sketch when it needs no downscale of
  // *this (the common case for a collector's accumulator): one pass over the bytes. On any
  // error *this is unchanged and the status says what was wrong with the bytes.
  Status merge_serialized(ByteSpan bytes);

  // Estimate of the value of rank floor(φ·(count-1)); φ is clamped to [0, 1]. NaN when empty
  // or φ is NaN. O(buckets).
  double quantile(double phi) const;

  std::uint64_t count() const { return count_; }
  // Sum of the added values (±inf or NaN if the sum overflowed); 0 when empty.
  double sum() const { return sums_[0] + sums_[1]; }
  // Smallest / largest added value (-0 is stored as +0); NaN when empty.
  double min() const { return count_ ? min_ : std::numeric_limits<double>::quiet_NaN(); }
  double max() const { return count_ ? max_ : std::numeric_limits<double>::quiet_NaN(); }
  int scale() const { return scale_; }
  int max_buckets() const { return max_buckets_; }
  // Count of ±0 and subnormal values.
  std::uint64_t zero_count() const { return zero_count_; }
  // (γ-1)/(γ+1) with γ = 2^(2^-scale): 0.0054 at scale 6.
  double relative_error_bound() const;

  // Bucket i of a store covers (γ^(offset+i), γ^(offset+i+1)] of |v|. The first and last
  // counts are non-zero; empty store: offset 0 and no counts. Views are valid until the next
  // non-const call.
  std::int32_t positive_offset() const { return offset_of(stores_[0]); }
  ExpHistCounts positive_counts() const { return counts_of(stores_[0]); }
  std::int32_t negative_offset() const { return offset_of(stores_[1]); }
  ExpHistCounts negative_counts() const { return counts_of(stores_[1]); }

  // A hint for callers that know the next values ahead: loads the cache line of the counter
  // add(v) would increment now, if the bucket is in range. Changes nothing.
  void prefetch(double v) const;

  // Appends the layout documented above to `out`.
  void serialize(Bytes& out) const;
  Bytes serialize() const;
  // Decodes untrusted bytes: never crashes, allocation bounded by the input size.
  static Result<ExpHistogram> deserialize(ByteSpan bytes);
  // The histogram with exactly these parts: what deserialize() builds from their serialization,
  // without it (for code that merges buckets in its own layout). kInvalidArgument for parts that
  // serialized bytes could not hold (the decoder's checks: scale, max_buckets, store ranges, end
  // buckets, counts adding up, min/max).
  static Result<ExpHistogram> from_parts(const ExpHistParts& parts);
  // This histogram's parts (from_parts(parts()) builds it again); the counts are views into
  // *this, valid until it changes. min and max are +inf and -inf when count() is 0.
  ExpHistParts parts() const;

  // What validate() reports of serialized bytes: count(), min(), max() and sum() of the sketch
  // deserialize() would build (min and max NaN when count is 0).
  struct SerializedStats {
    std::uint64_t count = 0;
    double min = std::numeric_limits<double>::quiet_NaN();
    double max = std::numeric_limits<double>::quiet_NaN();
    double sum = 0;
  };
  // OK exactly when deserialize(bytes) succeeds, with the same error otherwise, in one pass over
  // the bytes that builds nothing and allocates nothing (for receivers that keep the bytes). On
  // success, fills *stats when given.
  static Status validate(ByteSpan bytes, SerializedStats* stats = nullptr);

  // Same scale, buckets, zero count and count, and bit-equal min, max and sum (max_buckets is
  // configuration and not compared).
  friend bool operator==(const ExpHistogram& a, const ExpHistogram& b);

  // Heap and object bytes held.
  std::size_t memory_bytes() const;

 private:
  friend class ExpHistogramAccumulator;  // reads the stores of the histograms it merges

  static std::int32_t offset_of(const detail::ExpHistStore& s) { return s.span ? s.lo : 0; }
  static ExpHistCounts counts_of(const detail::ExpHistStore& s) {
    return ExpHistCounts(s.at_lo, s.span, s.wide);
  }
  // Adds n to bucket `index` of store `s`, which covers it, widening first if a narrow counter
  // would pass 255.
  void add_to_bucket(detail::ExpHistStore& s, std::int32_t index, std::uint64_t n);
  // Both stores to 8-byte counters.
  void widen();
  // Widens unless `total` (a bound on every count) fits a narrow counter.
  void widen_for(std::uint64_t total) {
    if (!stores_[0].wide && total > kNarrowMax) widen();
  }
  static constexpr std::uint64_t kNarrowMax = 255;
  // add() for ±0, subnormals, NaN and ±inf.
  void add_special(double v, std::uint64_t n);
  // Adds n to bucket `index` of store `sign` where index is outside the store's range;
  // downscales first if the range would exceed max_buckets_.
  void add_outside_range(std::uint64_t sign, std::int32_t index, std::uint64_t n);
  // Lowers the scale by d >= 0 steps.
  void downscale(int d);
  void update_stats(double v, std::uint64_t n);

  detail::ExpHistStore stores_[2];  // [0] positive, [1] negative: indexed by the sign bit
  std::uint64_t count_ = 0;
  std::uint64_t zero_count_ = 0;
  // Two partial sums, chosen by the parity of the bucket: the add() loop is otherwise bound by
  // one floating-point add chained through memory (~4 ns); two chains halve that. (The parity
  // of the bucket rather than of the count keeps add() from waiting on count_.)
  double sums_[2] = {0, 0};
  double min_ = std::numeric_limits<double>::infinity();
  double max_ = -std::numeric_limits<double>::infinity();
  std::int32_t scale_;
  std::int32_t shift_;  // 8 - scale_: scale-8 index >> shift_ = index at scale_
  std::int32_t max_buckets_;
};

// What ExpHistogram::quantile() reads of a histogram, for code that keeps the buckets in its own
// layout (the collector's dense merge buckets). Counts as positive_counts()/negative_counts():
// first and last non-zero, adding up to count - zero_count; min <= max when count > 0.
struct ExpHistQuantileParts {
  std::uint64_t count = 0;
  std::uint64_t zero_count = 0;
  double min = 0;
  double max = 0;
  int scale = 0;
  std::int32_t positive_offset = 0;
  ExpHistCounts positive;
  std::int32_t negative_offset = 0;
  ExpHistCounts negative;
};

// ExpHistogram::quantile(φ) of the histogram with these parts, bit for bit.
double exp_hist_quantile(const ExpHistQuantileParts& h, double phi);

// Everything of a histogram (ExpHistogram::from_parts): the quantile parts, sum and max_buckets.
struct ExpHistParts {
  ExpHistQuantileParts buckets;
  double sum = 0;
  int max_buckets = 0;
};

// Implementation of the hot path; see the class comment for the contract.
inline void ExpHistogram::add(double v) {
  const std::uint64_t x = std::bit_cast<std::uint64_t>(v) - 1;
  detail::ExpHistStore& s = stores_[x >> 63];
  const std::uint32_t rel = static_cast<std::uint32_t>(detail::exp_hist_index8(x) >> shift_) -
                            static_cast<std::uint32_t>(s.lo);
  // One branch for everything rare (special values, a bucket outside the range), and a tail call
  // for it: nothing of this call has to live across another, so v and the constants stay in
  // registers.
  if (!(detail::exp_hist_is_normal(x) & (rel < s.span))) [[unlikely]] {
    add(v, 1);
    return;
  }
  if (!s.wide) [[likely]] {
    if (++s.at_lo[rel] == 0) [[unlikely]] {  // the count would pass 255: widen first
      s.at_lo[rel] = 255;
      add(v, 1);
      return;
    }
  } else {
    unsigned char* const counter = s.at_lo + 8 * std::size_t{rel};
    std::uint64_t c;
    std::memcpy(&c, counter, sizeof c);
    ++c;
    std::memcpy(counter, &c, sizeof c);
  }
  ++count_;
  sums_[rel & 1] += v;
  // Branches rather than minsd/maxsd: new extremes are rare, and a store skipped keeps the
  // next add() from waiting on this one.
  if (v < min_) [[unlikely]] {
    min_ = v;
  }
  if (v > max_) [[unlikely]] {
    max_ = v;
  }
}

inline void ExpHistogram::prefetch(double v) const {
  const std::uint64_t x = std::bit_cast<std::uint64_t>(v) - 1;
  const detail::ExpHistStore& s = stores_[x >> 63];
  const std::uint32_t rel = static_cast<std::uint32_t>(detail::exp_hist_index8(x) >> shift_) -
                            static_cast<std::uint32_t>(s.lo);
  if (detail::exp_hist_is_normal(x) & (rel < s.span)) {
    __builtin_prefetch(s.at_lo + rel * s.counter_bytes(), 1);
  }
}

}  // namespace edgesketch::sketch
