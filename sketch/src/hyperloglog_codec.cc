// HyperLogLog wire format (layout table in hyperloglog.h): serialize, one hostile-input decoder,
// and deserialize / merge_serialized built on it.
#include <algorithm>
#include <bit>
#include <cstring>
#include <string>

#include "edgesketch/sketch/hyperloglog.h"

namespace edgesketch::sketch {
namespace {

constexpr std::size_t kHeaderSize = 11;
constexpr std::uint8_t kKindSparse = 0;
constexpr std::uint8_t kKindDense = 1;
constexpr int kRhoBits = HyperLogLog::kRhoBits;
constexpr int kExtraBits = HyperLogLog::kSparseExtraBits;
constexpr std::uint32_t kExtraMask = (1u << kExtraBits) - 1;

std::size_t packed_size(int p) { return (std::size_t{6} << p) / 8; }

// Eight registers (one per byte, each < 64) -> the low 48 bits, register j at bits [6j, 6j + 6).
std::uint64_t pack8(std::uint64_t x) {
  x = (x & 0x003F003F003F003Full) | ((x & 0x3F003F003F003F00ull) >> 2);
  x = (x & 0x00000FFF00000FFFull) | ((x & 0x0FFF00000FFF0000ull) >> 4);
  return (x & 0x0000000000FFFFFFull) | ((x & 0x00FFFFFF00000000ull) >> 8);
}

// The inverse of pack8 on each 64-bit lane; bits 48..63 of a lane are ignored. A template so
// one definition serves u64 and GCC/Clang vectors of u64 (SSE2 or NEON, two groups at a time).
template <typename U64>
U64 unpack8(U64 v) {
  U64 x = (v & 0xFFFFFFull) | ((v & 0xFFFFFF000000ull) << 8);
  x = (x & 0x00000FFF00000FFFull) | ((x & 0x00FFF00000FFF000ull) << 4);
  return (x & 0x003F003F003F003Full) | ((x & 0x0FC00FC00FC00FC0ull) << 2);
}
using U64x2 = std::uint64_t __attribute__((vector_size(16)));

// Appends bits LSB first (bit b of the stream is bit b % 8 of byte b / 8).
class BitWriter {
 public:
  explicit BitWriter(Bytes& out) : out_(out) {}
  // Precondition: n <= 32 and value < 2^n.
  void bits(std::uint64_t value, int n) {
    acc_ |= value << fill_;
    fill_ += n;
    while (fill_ >= 8) {
      out_.push_back(static_cast<std::uint8_t>(acc_));
      acc_ >>= 8;
      fill_ -= 8;
    }
  }
  void zeros(std::uint64_t n) {
    for (; n > 32; n -= 32) bits(0, 32);
    bits(0, static_cast<int>(n));
  }
  // Pads the last byte with zero bits.
  void finish() {
    if (fill_ > 0) out_.push_back(static_cast<std::uint8_t>(acc_));
    acc_ = 0;
    fill_ = 0;
  }

 private:
  Bytes& out_;
  std::uint64_t acc_ = 0;
  int fill_ = 0;
};

// Reads what BitWriter wrote, with a sticky failure flag when a read runs past the end or past
// a caller's bound.
class BitReader {
 public:
  explicit BitReader(ByteSpan in) : in_(in), end_(in.size() * 8) {}
  bool ok() const { return ok_; }
  std::size_t position() const { return pos_; }

  // The next n <= 32 bits.
  std::uint32_t bits(int n) {
    if (n == 0) return 0;
    if (end_ - pos_ < static_cast<std::size_t>(n)) return fail();
    const auto v = static_cast<std::uint32_t>(window() & ((std::uint64_t{1} << n) - 1));
    pos_ += static_cast<std::size_t>(n);
    return v;
  }
  // Counts zero bits up to and including the next one bit. Stops early and returns limit + 1
  // once more than `limit` zeros are seen, so a hostile run costs O(limit / 57).
  std::uint64_t unary(std::uint64_t limit) {
    std::uint64_t zeros = 0;
    while (pos_ < end_) {
      const std::size_t valid = std::min<std::size_t>(57, end_ - pos_);
      const std::uint64_t w = window() & ((std::uint64_t{1} << valid) - 1);
      if (w != 0) {
        const int z = std::countr_zero(w);
        zeros += static_cast<std::uint64_t>(z);
        pos_ += static_cast<std::size_t>(z) + 1;
        return std::min(zeros, limit + 1);
      }
      zeros += valid;
      pos_ += valid;
      if (zeros > limit) return limit + 1;
    }
    return fail();
  }

 private:
  std::uint32_t fail() {
    ok_ = false;
    pos_ = end_;
    return 0;
  }
  // At least 57 bits from pos_ on (zeros past the end). Precondition: pos_ < end_.
  std::uint64_t window() const {
    const std::size_t byte = pos_ / 8;
    std::uint64_t v = 0;
    std::memcpy(&v, in_.data() + byte, std::min<std::size_t>(8, in_.size() - byte));
    return v >> (pos_ % 8);
  }

  ByteSpan in_;
  std::size_t end_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

// Rice parameter with the fewest bits for these gaps, searched around log2(mean gap).
int choose_rice_k(std::span<const std::uint32_t> gaps, int max_k) {
  std::uint64_t sum = 0;
  for (std::uint32_t g : gaps) sum += g;
  const std::uint64_t mean = sum / gaps.size();
  const int k0 = mean == 0 ? 0 : std::bit_width(mean) - 1;
  int best_k = 0;
  std::uint64_t best_bits = UINT64_MAX;
  for (int k = std::max(0, k0 - 1); k <= std::min(max_k, k0 + 1); ++k) {
    std::uint64_t bits = gaps.size() * static_cast<std::uint64_t>(k + 1);
    for (std::uint32_t g : gaps) bits += g >> k;
    if (bits < best_bits) {
      best_bits = bits;
      best_k = k;
    }
  }
  return best_k;
}

Status corrupt(const std::string& what) { return Status::corruption("hyperloglog: " + what); }

// A decoded, validated serialization.
struct Decoded {
  int precision = 0;
  std::uint64_t seed = 0;
  bool dense = false;
  std::vector<std::uint8_t> registers;  // dense: 2^p registers
  std::vector<std::uint32_t> coupons;   // sparse: sorted, unique idx'
};

Status decode_dense(ByteSpan body, Decoded& d) {
  const int p = d.precision;
  if (body.size() != packed_size(p)) {
    return corrupt(std::string(body.size() < packed_size(p) ? "truncated" : "trailing bytes in") +
                   " dense body: " + std::to_string(body.size()) + " bytes, precision " +
                   std::to_string(p) + " needs " + std::to_string(packed_size(p)));
  }
  const std::size_t groups = body.size() / 6;
  d.registers.resize(groups * 8);
  const std::uint8_t* in = body.data();
  std::uint8_t* out = d.registers.data();
  // Two groups per step; 8-byte loads read 2 bytes past a group, so the last group (and the one
  // before it, when it starts a step) are loaded with 6.
  std::size_t g = 0;
  for (; g + 2 < groups; g += 2) {
    std::uint64_t lo, hi;
    std::memcpy(&lo, in + 6 * g, 8);
    std::memcpy(&hi, in + 6 * g + 6, 8);
    const U64x2 x = unpack8(U64x2{lo, hi});
    std::memcpy(out + 8 * g, &x, 16);
  }
  for (; g < groups; ++g) {
    std::uint64_t v = 0;
    std::memcpy(&v, in + 6 * g, 6);
    const std::uint64_t x = unpack8(v);
    std::memcpy(out + 8 * g, &x, 8);
  }

  const std::uint8_t max_rho = static_cast<std::uint8_t>(64 - p + 1);
  std::uint8_t largest = 0;
  for (std::uint8_t r : d.registers) largest = std::max(largest, r);  // vectorised
  if (largest > max_rho) {
    const auto it = std::find_if(d.registers.begin(), d.registers.end(),
                                 [&](std::uint8_t r) { return r > max_rho; });
    return corrupt("register " + std::to_string(it - d.registers.begin()) + " has value " +
                   std::to_string(*it) + ", above the maximum " + std::to_string(max_rho) +
                   " for precision " + std::to_string(p));
  }
  return Status::ok_status();
}

Status decode_sparse(ByteReader& r, Decoded& d) {
  const int sp = d.precision + kExtraBits;
  const std::uint64_t limit = (std::uint64_t{1} << d.precision) / 4;
  const std::uint64_t n = r.varint();
  if (!r.ok()) return corrupt("truncated or malformed sparse coupon count");
  if (n > limit) {
    return corrupt("sparse coupon count " + std::to_string(n) + " exceeds the limit " +
                   std::to_string(limit) + " for precision " + std::to_string(d.precision));
  }
  if (n == 0) {
    if (!r.at_end()) return corrupt(std::to_string(r.remaining()) + " trailing bytes");
    return Status::ok_status();
  }
  const int k = r.u8();
  if (!r.ok()) return corrupt("truncated before the Rice parameter");
  if (k > sp) {
    return corrupt("Rice parameter " + std::to_string(k) + " exceeds the sparse precision " +
                   std::to_string(sp));
  }
  // Each coupon takes at least k + 1 bits: refuse a count the input cannot hold before
  // allocating for it.
  const ByteSpan stream = r.bytes(r.remaining());
  if (n * static_cast<std::uint64_t>(k + 1) > stream.size() * 8) {
    return corrupt("truncated sparse body: " + std::to_string(stream.size()) +
                   " bytes cannot hold " + std::to_string(n) + " coupons");
  }
  const std::uint64_t max_index = (std::uint64_t{1} << sp) - 1;
  const std::uint64_t max_rho = static_cast<std::uint64_t>(64 - sp + 1);
  BitReader bits(stream);
  d.coupons.reserve(n);
  std::uint64_t next = 0;  // smallest index the next coupon may have
  for (std::uint64_t i = 0; i < n; ++i) {
    // A quotient past max_index >> k yields an index past max_index.
    const std::uint64_t quotient = bits.unary(max_index >> k);
    const std::uint64_t index = next + ((quotient << k) | bits.bits(k));
    if (index > max_index) {
      return corrupt("coupon " + std::to_string(i) + " has index " + std::to_string(index) +
                     ", beyond the sparse precision " + std::to_string(sp));
    }
    if (!bits.ok()) return corrupt("truncated sparse body at coupon " + std::to_string(i));
    std::uint64_t rho = 0;
    if ((index & kExtraMask) == 0) {
      rho = bits.bits(kRhoBits);
      if (!bits.ok()) return corrupt("truncated sparse body at coupon " + std::to_string(i));
      if (rho < 1 || rho > max_rho) {
        return corrupt("coupon " + std::to_string(i) + " has rho' " + std::to_string(rho) +
                       ", outside 1.." + std::to_string(max_rho));
      }
    }
    d.coupons.push_back(static_cast<std::uint32_t>(index << kRhoBits | rho));
    next = index + 1;
  }
  const std::size_t used_bytes = (bits.position() + 7) / 8;
  if (used_bytes != stream.size()) {
    return corrupt(std::to_string(stream.size() - used_bytes) + " trailing bytes");
  }
  if (bits.position() % 8 != 0 && (stream.back() >> (bits.position() % 8)) != 0) {
    return corrupt("non-zero padding bits after the last coupon");
  }
  return Status::ok_status();
}

Result<Decoded> decode(ByteSpan bytes) {
  ByteReader r(bytes);
  Decoded d;
  const std::uint8_t version = r.u8();
  const std::uint8_t kind = r.u8();
  const std::uint8_t precision = r.u8();
  d.seed = r.u64();
  if (!r.ok()) {
    return corrupt("truncated header: " + std::to_string(bytes.size()) + " bytes, need " +
                   std::to_string(kHeaderSize));
  }
  if (version != HyperLogLog::kVersion) {
    return corrupt("unsupported version " + std::to_string(version) + " (this build reads " +
                   std::to_string(HyperLogLog::kVersion) + "); not a HyperLogLog or too new");
  }
  if (kind != kKindSparse && kind != kKindDense) {
    return corrupt("unknown kind " + std::to_string(kind) + " (0 = sparse, 1 = dense)");
  }
  if (precision < HyperLogLog::kMinPrecision || precision > HyperLogLog::kMaxPrecision) {
    return corrupt("precision " + std::to_string(precision) + " outside " +
                   std::to_string(HyperLogLog::kMinPrecision) + ".." +
                   std::to_string(HyperLogLog::kMaxPrecision));
  }
  d.precision = precision;
  d.dense = kind == kKindDense;
  if (d.dense) {
    ES_RETURN_IF_ERROR(decode_dense(r.bytes(r.remaining()), d));
  } else {
    ES_RETURN_IF_ERROR(decode_sparse(r, d));
  }
  return d;
}

}  // namespace

void HyperLogLog::serialize(Bytes& out) const {
  put_u8(out, kVersion);
  put_u8(out, is_sparse() ? kKindSparse : kKindDense);
  put_u8(out, static_cast<std::uint8_t>(p_));
  put_u64(out, seed_);
  if (!is_sparse()) {
    const std::size_t groups = packed_size(p_) / 6;
    const std::size_t start = out.size();
    out.resize(start + groups * 6 + 2);  // 2 bytes of slack for the 8-byte stores
    std::uint8_t* dst = out.data() + start;
    for (std::size_t g = 0; g < groups; ++g) {
      std::uint64_t x;
      std::memcpy(&x, registers_.data() + 8 * g, 8);
      const std::uint64_t v = pack8(x);
      std::memcpy(dst + 6 * g, &v, 8);
    }
    out.resize(start + groups * 6);
    return;
  }
  const std::vector<std::uint32_t> coupons = sorted_coupons();
  put_varint(out, coupons.size());
  if (coupons.empty()) return;
  std::vector<std::uint32_t> gaps(coupons.size());
  std::uint32_t next = 0;
  for (std::size_t i = 0; i < coupons.size(); ++i) {
    const std::uint32_t index = coupons[i] >> kRhoBits;
    gaps[i] = index - next;
    next = index + 1;
  }
  const int k = choose_rice_k(gaps, p_ + kExtraBits);
  put_u8(out, static_cast<std::uint8_t>(k));
  BitWriter bits(out);
  for (std::size_t i = 0; i < coupons.size(); ++i) {
    bits.zeros(gaps[i] >> k);
    bits.bits(1, 1);
    bits.bits(gaps[i] & ((std::uint32_t{1} << k) - 1), k);
    if (((coupons[i] >> kRhoBits) & kExtraMask) == 0) {
      bits.bits(coupons[i] & ((1u << kRhoBits) - 1), kRhoBits);
    }
  }
  bits.finish();
}

Bytes HyperLogLog::serialize() const {
  Bytes out;
  out.reserve(is_sparse() ? kHeaderSize + 16 + 4 * (coupons_.size() + buffer_.size())
                          : kHeaderSize + packed_size(p_));
  serialize(out);
  return out;
}

Result<HyperLogLog> HyperLogLog::deserialize(ByteSpan bytes) {
  ES_ASSIGN_OR_RETURN(Decoded d, decode(bytes));
  HyperLogLog sketch(HllOptions{.precision = d.precision, .seed = d.seed});
  if (d.dense) {
    sketch.registers_ = std::move(d.registers);
  } else {
    sketch.coupons_ = std::move(d.coupons);
  }
  return sketch;
}

Status HyperLogLog::merge_serialized(ByteSpan bytes) {
  ES_ASSIGN_OR_RETURN(Decoded d, decode(bytes));
  ES_RETURN_IF_ERROR(check_compatible(d.precision, d.seed, "hyperloglog merge_serialized"));
  if (d.dense) {
    merge_registers(d.registers.data());
  } else {
    merge_sorted_coupons(d.coupons);
  }
  return Status::ok_status();
}

}  // namespace edgesketch::sketch
