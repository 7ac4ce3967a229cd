// Bit streams and the Gorilla XOR float coding.
#include "float_coding.h"

#include <bit>
#include <cmath>
#include <cstring>

namespace edgesketch::store {
namespace {

class BitWriter {
 public:
  explicit BitWriter(Bytes& out) : out_(out) {}
  // Appends the low n bits of v (0 <= n <= 64), most significant first.
  void put(std::uint64_t v, int n) {
    if (n == 0) return;
    if (n < 64) v &= (std::uint64_t{1} << n) - 1;
    while (n > 0) {
      const int space = 8 - fill_;
      const int take = n < space ? n : space;
      const auto chunk = static_cast<std::uint8_t>((v >> (n - take)) & ((1u << take) - 1));
      cur_ = static_cast<std::uint8_t>(cur_ | (chunk << (space - take)));
      fill_ += take;
      n -= take;
      if (fill_ == 8) {
        out_.push_back(cur_);
        cur_ = 0;
        fill_ = 0;
      }
    }
  }
  void finish() {
    if (fill_ > 0) out_.push_back(cur_);
    cur_ = 0;
    fill_ = 0;
  }

 private:
  Bytes& out_;
  std::uint8_t cur_ = 0;
  int fill_ = 0;
};

class BitReader {
 public:
  explicit BitReader(ByteSpan in) : p_(in.data()), size_(in.size()), total_(in.size() * 8) {}
  bool ok() const { return ok_; }
  std::uint64_t position() const { return pos_; }
  std::uint64_t total() const { return total_; }

  // The next n bits (0 <= n <= 64); 0 and failed when fewer remain.
  std::uint64_t get(int n) {
    if (n == 0) return 0;
    if (n > 56) {
      const std::uint64_t hi = get(n - 32);
      return (hi << 32) | get(32);
    }
    if (pos_ + static_cast<std::uint64_t>(n) > total_) {
      ok_ = false;
      pos_ = total_;
      return 0;
    }
    const std::size_t byte = pos_ >> 3;
    const int shift = static_cast<int>(pos_ & 7);
    std::uint64_t w;
    if (byte + 8 <= size_) {
      std::memcpy(&w, p_ + byte, 8);
    } else {
      std::uint8_t buf[8] = {};
      std::memcpy(buf, p_ + byte, size_ - byte);
      std::memcpy(&w, buf, 8);
    }
    w = __builtin_bswap64(w);
    pos_ += static_cast<std::uint64_t>(n);
    return (w << shift) >> (64 - n);
  }
  bool bit() { return get(1) != 0; }

 private:
  const std::uint8_t* p_;
  std::size_t size_;
  std::uint64_t total_;
  std::uint64_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace

void gorilla_encode(std::span<const double> values, Bytes& out) {
  BitWriter w(out);
  std::uint64_t prev = 0;
  int prev_lz = -1;
  int prev_tz = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto bits = std::bit_cast<std::uint64_t>(values[i]);
    if (i == 0) {
      w.put(bits, 64);
      prev = bits;
      continue;
    }
    const std::uint64_t x = bits ^ prev;
    prev = bits;
    if (x == 0) {
      w.put(0, 1);
      continue;
    }
    int lz = std::countl_zero(x);
    const int tz = std::countr_zero(x);
    if (lz > 31) lz = 31;
    if (prev_lz >= 0 && lz >= prev_lz && tz >= prev_tz) {
      w.put(0b10, 2);
      w.put(x >> prev_tz, 64 - prev_lz - prev_tz);
    } else {
      const int sig = 64 - lz - tz;
      w.put(0b11, 2);
      w.put(static_cast<std::uint64_t>(lz), 5);
      w.put(static_cast<std::uint64_t>(sig - 1), 6);
      w.put(x >> tz, sig);
      prev_lz = lz;
      prev_tz = tz;
    }
  }
  w.finish();
}

bool gorilla_decode(ByteSpan in, std::size_t n, std::vector<double>& out) {
  out.clear();
  if (n == 0) return in.empty();
  // Every value takes at least one bit.
  if (n > in.size() * 8) return false;
  out.reserve(n);
  BitReader r(in);
  std::uint64_t prev = r.get(64);
  out.push_back(std::bit_cast<double>(prev));
  int prev_lz = -1;
  int prev_tz = 0;
  for (std::size_t i = 1; i < n && r.ok(); ++i) {
    if (!r.bit()) {
      out.push_back(std::bit_cast<double>(prev));
      continue;
    }
    std::uint64_t x;
    if (!r.bit()) {
      if (prev_lz < 0) return false;
      x = r.get(64 - prev_lz - prev_tz) << prev_tz;
    } else {
      const int lz = static_cast<int>(r.get(5));
      const int sig = static_cast<int>(r.get(6)) + 1;
      if (lz + sig > 64) return false;
      const int tz = 64 - lz - sig;
      x = r.get(sig) << tz;
      prev_lz = lz;
      prev_tz = tz;
    }
    prev ^= x;
    out.push_back(std::bit_cast<double>(prev));
  }
  if (!r.ok() || out.size() != n) return false;
  // Only zero padding may remain, and less than a byte of it.
  const std::uint64_t left = r.total() - r.position();
  if (left >= 8) return false;
  return r.get(static_cast<int>(left)) == 0;
}

namespace {

constexpr double kPow10[kMaxDecimalDigits + 1] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
// A run's mode byte: kGorilla, or k | kHasUlps (the ulps follow the m deltas) | kPredicted.
constexpr std::uint8_t kGorilla = 0xff;
constexpr std::uint8_t kHasUlps = 0x10;
constexpr std::uint8_t kPredicted = 0x20;  // m relative to the prediction's, not the previous

}  // namespace

DecimalParts decimal_split(double v, int k) {
  const double x = v * kPow10[k];
  DecimalParts p;
  // Beyond 2^62 (or not finite) m stays 0 and the ulps carry the whole value.
  if (std::isfinite(x) && std::fabs(x) < 0x1p62) p.m = static_cast<std::int64_t>(std::nearbyint(x));
  p.ulps = static_cast<std::int64_t>(std::bit_cast<std::uint64_t>(v) -
                                     std::bit_cast<std::uint64_t>(decimal_join(p.m, 0, k)));
  return p;
}

double decimal_join(std::int64_t m, std::int64_t ulps, int k) {
  const double a = static_cast<double>(m) / kPow10[k];
  return std::bit_cast<double>(std::bit_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(ulps));
}

namespace {

// Bits a zig-zag varint costs, roughly, once compressed: its significant bits, one, and the
// continuation bits of its bytes (which zstd cannot take back for random values).
std::size_t bit_cost(std::int64_t v) {
  const auto w = static_cast<std::size_t>(std::bit_width(zigzag_encode(v)));
  return w + 1 + w / 7;
}

// The m of the i-th value's reference: the previous value's (0 for the first), or the
// prediction's.
std::int64_t reference_m(std::span<const double> predictions, std::uint64_t prev_m, std::size_t i,
                         int k, bool predicted) {
  if (predicted) return decimal_split(predictions[i], k).m;
  return static_cast<std::int64_t>(prev_m);
}

}  // namespace

void encode_scalar_run(std::span<const double> values, std::span<const double> predictions,
                       Bytes& out) {
  Bytes gorilla;
  gorilla_encode(values, gorilla);
  std::size_t best_cost =
      8 * (static_cast<std::size_t>(varint_size(gorilla.size())) + gorilla.size());
  int best_k = -1;
  bool best_ulps = false;
  bool best_predicted = false;
  for (int k = 0; k <= kMaxDecimalDigits; ++k) {
    std::size_t cost[2] = {0, 0};
    std::size_t ulps_cost = 0;
    std::uint64_t prev = 0;
    bool ulps = false;
    for (std::size_t i = 0; i < values.size(); ++i) {
      const DecimalParts p = decimal_split(values[i], k);
      const auto m = static_cast<std::uint64_t>(p.m);
      cost[0] += bit_cost(static_cast<std::int64_t>(m - prev));
      if (!predictions.empty()) {
        const auto pm = static_cast<std::uint64_t>(decimal_split(predictions[i], k).m);
        cost[1] += bit_cost(static_cast<std::int64_t>(m - pm));
      }
      ulps_cost += bit_cost(p.ulps);
      ulps = ulps || p.ulps != 0;
      prev = m;
    }
    for (int predicted = 0; predicted < (predictions.empty() ? 1 : 2); ++predicted) {
      const std::size_t c = cost[predicted] + (ulps ? ulps_cost : 0);
      if (c < best_cost) {
        best_cost = c;
        best_k = k;
        best_ulps = ulps;
        best_predicted = predicted != 0;
      }
    }
    // More digits only make m longer once no value needs a correction.
    if (!ulps) break;
  }
  if (best_k < 0) {
    put_u8(out, kGorilla);
    put_varint(out, gorilla.size());
    put_bytes(out, gorilla);
    return;
  }
  put_u8(out, static_cast<std::uint8_t>(best_k | (best_ulps ? kHasUlps : 0) |
                                        (best_predicted ? kPredicted : 0)));
  std::uint64_t prev = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto m = static_cast<std::uint64_t>(decimal_split(values[i], best_k).m);
    const auto ref =
        static_cast<std::uint64_t>(reference_m(predictions, prev, i, best_k, best_predicted));
    put_svarint(out, static_cast<std::int64_t>(m - ref));
    prev = m;
  }
  if (best_ulps) {
    for (const double v : values) put_svarint(out, decimal_split(v, best_k).ulps);
  }
}

bool decode_scalar_run(ByteReader& in, std::size_t n, std::span<const double> predictions,
                       std::vector<double>& out) {
  const std::uint8_t mode = in.u8();
  if (!in.ok() || n == 0) return false;
  if (mode == kGorilla) {
    const std::uint64_t len = in.varint();
    if (!in.ok() || len > in.remaining()) return false;
    std::vector<double> run;
    if (!gorilla_decode(in.bytes(len), n, run)) return false;
    out.insert(out.end(), run.begin(), run.end());
    return true;
  }
  const int k = mode & 0x0f;
  const bool predicted = (mode & kPredicted) != 0;
  if ((mode & ~(0x0f | kHasUlps | kPredicted)) != 0 || k > kMaxDecimalDigits ||
      (predicted && predictions.size() != n)) {
    return false;
  }
  // Every value takes at least one byte.
  if (n > in.remaining()) return false;
  // The m values wait in out's slots as raw bits until their corrections are read.
  const std::size_t first = out.size();
  std::uint64_t m = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto ref = static_cast<std::uint64_t>(reference_m(predictions, m, i, k, predicted));
    m = ref + static_cast<std::uint64_t>(in.svarint());
    out.push_back(std::bit_cast<double>(m));
  }
  for (std::size_t i = first; i < out.size(); ++i) {
    const std::int64_t ulps = (mode & kHasUlps) ? in.svarint() : 0;
    out[i] = decimal_join(std::bit_cast<std::int64_t>(out[i]), ulps, k);
  }
  return in.ok();
}

}  // namespace edgesketch::store
