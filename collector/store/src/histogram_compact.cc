// Compact histogram entries of part blocks: encoding (with its round-trip check) and expansion
// to the canonical ExpHistogram bytes.
#include "histogram_compact.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <optional>
#include <vector>

#include "edgesketch/sketch/exp_histogram.h"

namespace edgesketch::store {
namespace {

using sketch::ExpHistogram;

// Head bits above the scale.
constexpr std::uint8_t kDense = 0x10;
constexpr std::uint8_t kSumFollows = 0x20;
constexpr std::uint8_t kExtras = 0x40;
// Bits of the extras byte; without it the histogram has a positive store only, no zero count,
// the default max_buckets and the row's min and max.
constexpr std::uint8_t kPositive = 0x01;
constexpr std::uint8_t kNegative = 0x02;
constexpr std::uint8_t kZeroCount = 0x04;
constexpr std::uint8_t kMaxBucketsFollow = 0x08;
constexpr std::uint8_t kMinFollows = 0x10;
constexpr std::uint8_t kMaxFollows = 0x20;
constexpr std::uint8_t kKnownExtras = 0x3f;
constexpr std::uint64_t kDefaultMaxBuckets = 2048;
constexpr std::int64_t kMaxStoreBuckets = ExpHistogram::kMaxMaxBuckets;

bool same(double a, double b) {
  return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
}

// Bucket index of |v| at `scale`, or `fallback` when v is zero, subnormal or not finite.
std::int64_t index_of(double v, int scale, std::int64_t fallback) {
  const std::uint64_t x = (std::bit_cast<std::uint64_t>(v) & ~(std::uint64_t{1} << 63)) - 1;
  if (!sketch::detail::exp_hist_is_normal(x)) return fallback;
  return sketch::detail::exp_hist_index8(x) >> (8 - scale);
}

// Predicted first and last bucket of store k (0 positive, 1 negative).
void predict(const RowStats& row, int scale, int k, std::int64_t& lo, std::int64_t& hi) {
  if (k == 0) {
    hi = row.max > 0 ? index_of(row.max, scale, 0) : 0;
    lo = row.min > 0 ? index_of(row.min, scale, hi) : hi;
  } else {
    hi = row.min < 0 ? index_of(row.min, scale, 0) : 0;
    lo = row.max < 0 ? index_of(row.max, scale, hi) : hi;
  }
}

// Writes counts as blocks of 8 in the canonical layout: width byte, then 8 counts of `width`
// bits, LSB first.
class BlockPacker {
 public:
  explicit BlockPacker(Bytes& out) : out_(out) {}
  void add(std::uint64_t c) {
    counts_[n_++] = c;
    if (n_ == 8) flush();
  }
  void flush() {
    if (n_ == 0) return;
    std::fill(counts_ + n_, counts_ + 8, 0);
    std::uint64_t any = 0;
    for (const auto c : counts_) any |= c;
    const auto w = static_cast<unsigned>(std::bit_width(any));
    put_u8(out_, static_cast<std::uint8_t>(w));
    unsigned __int128 acc = 0;
    unsigned bits = 0;
    for (const auto c : counts_) {
      acc |= static_cast<unsigned __int128>(c) << bits;
      bits += w;
      while (bits >= 8) {
        out_.push_back(static_cast<std::uint8_t>(acc));
        acc >>= 8;
        bits -= 8;
      }
    }
    n_ = 0;
  }

 private:
  Bytes& out_;
  std::uint64_t counts_[8] = {};
  unsigned n_ = 0;
};

// The canonical bytes parsed far enough to write the compact form.
struct Parsed {
  int scale = 0;
  std::uint8_t flags = 0;
  std::uint64_t max_buckets = 0;
  std::uint64_t zero_count = 0;
  double sum = 0, min = 0, max = 0;
  std::int64_t lo[2] = {0, 0};
  std::vector<std::uint64_t> counts[2];
};

bool parse_canonical(ByteSpan h, const RowStats& row, Parsed& p) {
  ByteReader r(h);
  if (r.u8() != ExpHistogram::kSerialVersion) return false;
  p.scale = static_cast<std::int8_t>(r.u8());
  p.flags = r.u8();
  p.max_buckets = r.varint();
  const std::uint64_t count = r.varint();
  if (!r.ok() || count == 0 || count != row.count || p.scale < ExpHistogram::kMinScale ||
      p.scale > ExpHistogram::kMaxScale || (p.flags & ~3) != 0) {
    return false;
  }
  p.sum = r.f64();
  p.min = r.f64();
  p.max = r.f64();
  p.zero_count = r.varint();
  for (int k = 0; k < 2; ++k) {
    if (!(p.flags & (1 << k))) continue;
    p.lo[k] = r.svarint();
    const std::uint64_t n = r.varint();
    if (!r.ok() || n == 0 || n > static_cast<std::uint64_t>(kMaxStoreBuckets)) return false;
    auto& counts = p.counts[k];
    for (std::uint64_t b = 0; b < n; b += 8) {
      const unsigned w = r.u8();
      if (!r.ok() || w > 64 || r.remaining() < w) return false;
      const ByteSpan packed = r.bytes(w);
      unsigned __int128 acc = 0;
      unsigned bits = 0;
      std::size_t at = 0;
      for (int i = 0; i < 8; ++i) {
        while (bits < w) {
          acc |= static_cast<unsigned __int128>(packed[at++]) << bits;
          bits += 8;
        }
        const std::uint64_t mask = w == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << w) - 1;
        if (b + static_cast<std::uint64_t>(i) < n)
          counts.push_back(static_cast<std::uint64_t>(acc) & mask);
        acc >>= w;
        bits -= w;
      }
    }
  }
  return r.ok() && r.at_end();
}

}  // namespace

namespace {

// Writes the compact form of p with the counts dense (one varint per bucket) or sparse.
void put_compact(const Parsed& p, const RowStats& row, bool dense, Bytes& out) {
  std::uint8_t head = static_cast<std::uint8_t>(p.scale + 4);
  if (dense) head |= kDense;
  if (!same(p.sum, row.sum)) head |= kSumFollows;
  std::uint8_t extras = 0;
  if (p.flags & 1) extras |= kPositive;
  if (p.flags & 2) extras |= kNegative;
  if (p.zero_count != 0) extras |= kZeroCount;
  if (p.max_buckets != kDefaultMaxBuckets) extras |= kMaxBucketsFollow;
  if (!same(p.min, row.min)) extras |= kMinFollows;
  if (!same(p.max, row.max)) extras |= kMaxFollows;
  if (extras != kPositive) head |= kExtras;
  put_u8(out, head);
  if (head & kSumFollows) {
    put_svarint(out, static_cast<std::int64_t>(std::bit_cast<std::uint64_t>(p.sum) -
                                               std::bit_cast<std::uint64_t>(row.sum)));
  }
  if (head & kExtras) put_u8(out, extras);
  if (extras & kMaxBucketsFollow) put_varint(out, p.max_buckets);
  if (extras & kZeroCount) put_varint(out, p.zero_count);
  if (extras & kMinFollows) put_f64(out, p.min);
  if (extras & kMaxFollows) put_f64(out, p.max);
  const int last_store = (p.flags & 2) ? 1 : 0;
  for (int k = 0; k < 2; ++k) {
    if (!(p.flags & (1 << k))) continue;
    std::int64_t plo = 0, phi = 0;
    predict(RowStats{row.count, p.sum, p.min, p.max}, p.scale, k, plo, phi);
    const auto& counts = p.counts[k];
    const auto n = static_cast<std::int64_t>(counts.size());
    put_svarint(out, p.lo[k] - plo);
    put_svarint(out, p.lo[k] + n - 1 - phi);
    const std::size_t given = counts.size() - (k == last_store ? 1 : 0);
    if (dense) {
      for (std::size_t i = 0; i < given; ++i) put_varint(out, counts[i]);
      continue;
    }
    // Non-canonical counts (an empty first or last bucket) come out wrong here and fail the
    // round trip.
    std::size_t i = 0;
    while (i + 1 < counts.size()) {
      std::size_t next = i + 1;
      while (next + 1 < counts.size() && counts[next] == 0) ++next;
      put_varint(out, (next - i - 1) * 2 + (counts[i] > 1 ? 1 : 0));
      if (counts[i] > 1) put_varint(out, counts[i] - 2);
      i = next;
    }
    if (given == counts.size()) put_varint(out, counts.back() - 1);
  }
}

}  // namespace

bool compact_histogram(ByteSpan h, const RowStats& row, std::size_t shorter_than, Bytes& out,
                       Bytes& scratch) {
  Parsed p;
  if (!parse_canonical(h, row, p)) return false;
  const std::size_t start = out.size();
  put_compact(p, row, /*dense=*/false, out);
  const std::size_t sparse_size = out.size() - start;
  scratch.clear();
  put_compact(p, row, /*dense=*/true, scratch);
  if (scratch.size() < sparse_size) {
    out.resize(start);
    put_bytes(out, scratch);
  }
  ByteReader r(ByteSpan(out).subspan(start));
  scratch.clear();
  if (out.size() - start < shorter_than && expand_compact_histogram(r, row, &scratch) &&
      r.at_end() && std::equal(scratch.begin(), scratch.end(), h.begin(), h.end())) {
    return true;
  }
  out.resize(start);
  return false;
}

bool expand_compact_histogram(ByteReader& in, const RowStats& row, Bytes* out) {
  const std::uint8_t head = in.u8();
  const int scale = (head & 0x0f) - 4;
  if (!in.ok() || scale > ExpHistogram::kMaxScale || (head & 0x80) != 0 || row.count == 0) {
    return false;
  }
  const double sum = (head & kSumFollows)
                         ? std::bit_cast<double>(std::bit_cast<std::uint64_t>(row.sum) +
                                                 static_cast<std::uint64_t>(in.svarint()))
                         : row.sum;
  const std::uint8_t extras = (head & kExtras) ? in.u8() : kPositive;
  if ((extras & ~kKnownExtras) != 0) return false;
  const std::uint64_t max_buckets = (extras & kMaxBucketsFollow) ? in.varint() : kDefaultMaxBuckets;
  const std::uint64_t zero_count = (extras & kZeroCount) ? in.varint() : 0;
  // The bucket predictions use the histogram's own min and max.
  RowStats hs = row;
  hs.min = (extras & kMinFollows) ? in.f64() : row.min;
  hs.max = (extras & kMaxFollows) ? in.f64() : row.max;
  if (!in.ok() || zero_count > row.count) return false;
  const std::uint8_t flags = ((extras & kPositive) ? 1 : 0) | ((extras & kNegative) ? 2 : 0);
  const bool dense = (head & kDense) != 0;
  if (out != nullptr) {
    put_u8(*out, ExpHistogram::kSerialVersion);
    put_u8(*out, static_cast<std::uint8_t>(static_cast<std::int8_t>(scale)));
    put_u8(*out, flags);
    put_varint(*out, max_buckets);
    put_varint(*out, row.count);
    put_f64(*out, sum);
    put_f64(*out, hs.min);
    put_f64(*out, hs.max);
    put_varint(*out, zero_count);
  }
  std::uint64_t left = row.count - zero_count;  // for the buckets not yet read
  const int last_store = (flags & 2) ? 1 : 0;
  for (int k = 0; k < 2; ++k) {
    if (!(flags & (1 << k))) continue;
    std::int64_t plo = 0, phi = 0;
    predict(hs, scale, k, plo, phi);
    const std::int64_t dlo = in.svarint();
    const std::int64_t dhi = in.svarint();
    if (!in.ok()) return false;
    constexpr std::int64_t kLimit = std::int64_t{1} << 40;
    if (dlo < -kLimit || dlo > kLimit || dhi < -kLimit || dhi > kLimit) return false;
    const std::int64_t lo = plo + dlo, hi = phi + dhi;
    if (hi < lo || hi - lo >= kMaxStoreBuckets || lo < std::numeric_limits<std::int32_t>::min() ||
        hi > std::numeric_limits<std::int32_t>::max()) {
      return false;
    }
    const auto n = static_cast<std::uint64_t>(hi - lo + 1);
    // Dense: every count but a derived last takes at least one byte. Sparse: the gaps cover at
    // most n buckets, each non-empty bucket but the last takes at least one byte.
    if (dense && n - 1 > in.remaining()) return false;
    std::optional<BlockPacker> packer;
    if (out != nullptr) {
      put_svarint(*out, lo);
      put_varint(*out, n);
      packer.emplace(*out);
    }
    auto take = [&](std::uint64_t c) {
      if (c > left) return false;
      left -= c;
      if (packer) packer->add(c);
      return true;
    };
    if (dense) {
      for (std::uint64_t i = 0; i + 1 < n; ++i) {
        const std::uint64_t c = in.varint();
        if (!in.ok() || !take(c)) return false;
      }
    } else {
      // Buckets 0..n-1: a count (minus 1) for each non-empty one, a gap of empty buckets
      // between them; the last bucket is non-empty.
      std::uint64_t i = 0;
      while (true) {
        if (i + 1 == n) break;
        const std::uint64_t token = in.varint();
        const std::uint64_t c = (token & 1) ? in.varint() : 0;
        if (!in.ok() || c > ~std::uint64_t{0} - 2 || !take((token & 1) ? c + 2 : 1)) return false;
        const std::uint64_t gap = token >> 1;
        if (gap > n - i - 2) return false;
        if (packer) {
          for (std::uint64_t z = 0; z < gap; ++z) packer->add(0);
        }
        i += gap + 1;
      }
    }
    // The last bucket: derived in the last store, given in the other.
    if (k == last_store) {
      if (packer) packer->add(left);
      left = 0;
    } else {
      const std::uint64_t c = in.varint();
      if (!in.ok() || !take(dense ? c : c + 1)) return false;
    }
    if (packer) packer->flush();
  }
  return left == 0;
}

}  // namespace edgesketch::store
