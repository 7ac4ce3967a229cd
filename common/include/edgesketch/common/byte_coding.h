// Little-endian fixed-width, LEB128 varint and zig-zag coding for every byte layout we define.
//
// Writers append to a std::vector<std::uint8_t>. ByteReader reads from a borrowed span with a
// sticky failure flag: once a read runs past the end or a varint is malformed, every later read
// returns 0 and ok() is false, so a decoder can read a whole header and check once. Decoders of
// untrusted input must check remaining() before allocating anything sized by what they read.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace edgesketch {

static_assert(std::endian::native == std::endian::little,
              "edgesketch's byte layouts are little-endian and the code assumes a LE host");

using Bytes = std::vector<std::uint8_t>;
using ByteSpan = std::span<const std::uint8_t>;

inline std::uint64_t zigzag_encode(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
inline std::int64_t zigzag_decode(std::uint64_t v) {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}

// Number of bytes put_varint() writes for v (1..10).
inline int varint_size(std::uint64_t v) { return 1 + (63 - std::countl_zero(v | 1)) / 7; }

inline void put_u8(Bytes& out, std::uint8_t v) { out.push_back(v); }
template <typename T>
inline void put_fixed(Bytes& out, T v) {
  std::uint8_t b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.insert(out.end(), b, b + sizeof(T));
}
inline void put_u16(Bytes& out, std::uint16_t v) { put_fixed(out, v); }
inline void put_u32(Bytes& out, std::uint32_t v) { put_fixed(out, v); }
inline void put_u64(Bytes& out, std::uint64_t v) { put_fixed(out, v); }
inline void put_f64(Bytes& out, double v) { put_fixed(out, std::bit_cast<std::uint64_t>(v)); }
inline void put_varint(Bytes& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<std::uint8_t>(v));
}
inline void put_svarint(Bytes& out, std::int64_t v) { put_varint(out, zigzag_encode(v)); }
inline void put_bytes(Bytes& out, ByteSpan b) { out.insert(out.end(), b.begin(), b.end()); }
// varint length, then the bytes.
inline void put_string(Bytes& out, std::string_view s) {
  put_varint(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

class ByteReader {
 public:
  explicit ByteReader(ByteSpan in) : p_(in.data()), end_(in.data() + in.size()) {}

  bool ok() const { return ok_; }
  std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }
  bool at_end() const { return p_ == end_; }
  const std::uint8_t* position() const { return p_; }
  // Marks the reader failed (a decoder found a semantic error).
  void fail() {
    ok_ = false;
    p_ = end_;
  }

  std::uint8_t u8() {
    if (p_ == end_) return fail_zero<std::uint8_t>();
    return *p_++;
  }
  std::uint16_t u16() { return fixed<std::uint16_t>(); }
  std::uint32_t u32() { return fixed<std::uint32_t>(); }
  std::uint64_t u64() { return fixed<std::uint64_t>(); }
  double f64() { return std::bit_cast<double>(fixed<std::uint64_t>()); }

  std::uint64_t varint() {
    std::uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return fail_zero<std::uint64_t>();
      std::uint8_t b = *p_++;
      // The 10th byte may only carry the top bit of a 64-bit value.
      if (shift == 63 && b > 1) return fail_zero<std::uint64_t>();
      result |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if (b < 0x80) return result;
    }
    return fail_zero<std::uint64_t>();
  }
  std::int64_t svarint() { return zigzag_decode(varint()); }

  // A view of the next n bytes; empty and failed when fewer remain.
  ByteSpan bytes(std::size_t n) {
    if (n > remaining()) {
      fail();
      return {};
    }
    ByteSpan s(p_, n);
    p_ += n;
    return s;
  }
  // A varint length followed by that many bytes, at most max_len.
  std::string_view string(std::size_t max_len) {
    std::uint64_t n = varint();
    if (!ok_ || n > max_len || n > remaining()) {
      fail();
      return {};
    }
    std::string_view s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }

 private:
  template <typename T>
  T fail_zero() {
    fail();
    return T{};
  }
  template <typename T>
  T fixed() {
    if (remaining() < sizeof(T)) return fail_zero<T>();
    T v;
    std::memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
    return v;
  }

  const std::uint8_t* p_;
  const std::uint8_t* end_;
  bool ok_ = true;
};

}  // namespace edgesketch
