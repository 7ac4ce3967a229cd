// Validating decode of serialized ExpHistograms into dense buckets, the merge, and the encoder.
#include "histogram_merger.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <string>

#include "edgesketch/sketch/exp_hist_blocks.h"
#include "edgesketch/sketch/exp_histogram.h"

namespace edgesketch::store {
namespace {

using sketch::ExpHistogram;
using u128 = unsigned __int128;

constexpr std::int32_t kMinIndex8 = -1022 * 256 - 1;   // scale-8 bucket of 2^-1022
constexpr std::int32_t kMaxIndex8 = 1023 * 256 + 255;  // scale-8 bucket of the largest double

Status corrupt(const std::string& what) { return Status::corruption("histogram: " + what); }

// Appends the counts of one store as blocks of 8 at the smallest width that holds each block
// (the layout's packing: a width byte, then the 8 counts LSB-first).
void put_blocks(Bytes& out, const std::uint64_t* c, std::size_t n) {
  const std::size_t blocks = (n + 7) / 8;
  // Widths first, so the output grows once.
  std::size_t total = 0;
  unsigned widths_small[64];
  std::vector<unsigned> widths_large;
  unsigned* widths = widths_small;
  if (blocks > 64) {
    widths_large.resize(blocks);
    widths = widths_large.data();
  }
  for (std::size_t b = 0; b < blocks; ++b) {
    std::uint64_t all = 0;
    const std::size_t end = std::min(n, b * 8 + 8);
    for (std::size_t j = b * 8; j < end; ++j) all |= c[j];
    widths[b] = all == 0 ? 0 : 64 - static_cast<unsigned>(std::countl_zero(all));
    total += 1 + widths[b];
  }
  const std::size_t at = out.size();
  out.resize(at + total + 16);  // slack for the 16-byte stores below, trimmed after
  std::uint8_t* p = out.data() + at;
  std::memset(p, 0, total + 16);
  for (std::size_t b = 0; b < blocks; ++b) {
    const unsigned w = widths[b];
    *p++ = static_cast<std::uint8_t>(w);
    if (w == 0) continue;
    const std::size_t valid = std::min<std::size_t>(8, n - b * 8);
    const std::uint64_t* v = c + b * 8;
    if (w <= 8) {
      std::uint64_t x = 0;
      for (std::size_t k = 0; k < valid; ++k) x |= v[k] << (k * w);
      std::memcpy(p, &x, 8);
    } else {
      for (std::size_t k = 0; k < valid; ++k) {
        const unsigned bit = static_cast<unsigned>(k) * w;
        u128 x;
        std::memcpy(&x, p + bit / 8, 16);
        x |= static_cast<u128>(v[k]) << (bit % 8);
        std::memcpy(p + bit / 8, &x, 16);
      }
    }
    p += w;
  }
  out.resize(at + total);
}

// A view of n eight-byte counts, as the sketch's quantile rule reads them.
sketch::ExpHistCounts wide_counts(const std::uint64_t* c, std::size_t n) {
  return sketch::ExpHistCounts(reinterpret_cast<const unsigned char*>(c), n, /*wide=*/true);
}

int extra_downscale(std::int32_t lo, std::int32_t hi, std::int32_t max_buckets) {
  int d = 0;
  while ((hi >> d) - (lo >> d) + 1 > max_buckets) ++d;
  return d;
}

}  // namespace

void HistogramMerger::Store::cover(std::int32_t new_lo, std::int32_t new_hi) {
  if (!empty()) {
    new_lo = std::min(new_lo, lo);
    new_hi = std::max(new_hi, hi);
  }
  const std::int64_t size = static_cast<std::int64_t>(buf.size());
  if (new_lo >= base && new_hi < base + size) return;
  const std::int64_t need = std::int64_t{new_hi} - new_lo + 1;
  if (empty() && need <= size) {
    // Everything is zero: re-centre the buffer on the new range.
    base = static_cast<std::int32_t>(new_lo - (size - need) / 2);
    return;
  }
  // An empty store takes the range it needs (a scan keeps thousands of mergers, most of which
  // never grow again); a store that grows gets a quarter more for the next growth (merged
  // histograms of similar series extend the range in small steps, a few times).
  const std::int64_t grown = empty() ? std::max<std::int64_t>(need, 16)
                                     : std::max<std::int64_t>({need + need / 4, size, 64});
  std::vector<std::uint64_t> next(static_cast<std::size_t>(grown), 0);
  const auto next_base = static_cast<std::int32_t>(new_lo - (grown - need) / 2);
  if (!empty()) {
    std::memcpy(next.data() + (lo - next_base), buf.data() + (lo - base),
                static_cast<std::size_t>(hi - lo + 1) * sizeof(std::uint64_t));
  }
  buf = std::move(next);
  base = next_base;
}

void HistogramMerger::Store::downscale(int d, std::vector<std::uint64_t>& scratch) {
  if (d == 0 || empty()) return;
  const std::int32_t new_lo = lo >> d;
  const std::int32_t new_hi = hi >> d;
  scratch.assign(static_cast<std::size_t>(new_hi - new_lo + 1), 0);
  for (std::int32_t i = lo; i <= hi; ++i)
    scratch[static_cast<std::size_t>((i >> d) - new_lo)] += at(i);
  clear();
  cover(new_lo, new_hi);
  std::memcpy(buf.data() + (new_lo - base), scratch.data(), scratch.size() * sizeof(std::uint64_t));
  lo = new_lo;
  hi = new_hi;
}

void HistogramMerger::Store::clear() {
  if (!empty()) std::fill(buf.begin() + (lo - base), buf.begin() + (hi - base) + 1, 0);
  lo = 0;
  hi = -1;
}

void HistogramMerger::reset() {
  has_ = false;
  count_ = 0;
  zero_count_ = 0;
  sum_ = 0;
  min_ = std::numeric_limits<double>::infinity();
  max_ = -std::numeric_limits<double>::infinity();
  stores_[0].clear();
  stores_[1].clear();
}

// Accepts exactly what ExpHistogram::deserialize() accepts (see the layout in
// exp_histogram.h); the checks follow its order so that the messages name the first problem.
Status HistogramMerger::decode(ByteSpan bytes, Input& in) {
  ByteReader r(bytes);
  const std::uint8_t version = r.u8();
  if (!r.ok()) return corrupt("empty input");
  if (version != ExpHistogram::kSerialVersion) {
    return corrupt("unsupported version " + std::to_string(version));
  }
  in.scale = static_cast<std::int8_t>(r.u8());
  const std::uint8_t flags = r.u8();
  const std::uint64_t max_buckets = r.varint();
  in.count = r.varint();
  in.sum = 0;
  in.min = std::numeric_limits<double>::infinity();
  in.max = -std::numeric_limits<double>::infinity();
  if (in.count > 0) {
    in.sum = r.f64();
    in.min = r.f64();
    in.max = r.f64();
  }
  in.zero_count = r.varint();
  if (!r.ok()) return corrupt("truncated or malformed header");
  if (in.scale < ExpHistogram::kMinScale || in.scale > ExpHistogram::kMaxScale) {
    return corrupt("scale " + std::to_string(in.scale) + " outside [-4, 8]");
  }
  if ((flags & ~3u) != 0) return corrupt("unknown flags " + std::to_string(flags));
  if (max_buckets < ExpHistogram::kMinMaxBuckets || max_buckets > ExpHistogram::kMaxMaxBuckets) {
    return corrupt("max_buckets " + std::to_string(max_buckets) + " outside [128, 65536]");
  }
  in.max_buckets = static_cast<std::int32_t>(max_buckets);
  if (in.count > 0 && !(std::isfinite(in.min) && std::isfinite(in.max) && in.min <= in.max)) {
    return corrupt("min/max not finite and ordered");
  }
  if (in.count == 0 && flags != 0) return corrupt("empty histogram with bucket stores");
  if (in.zero_count > in.count) return corrupt("zero_count above count");

  u128 total = 0;
  for (int k = 0; k < 2; ++k) {
    in.present[k] = (flags & (1u << k)) != 0;
    if (!in.present[k]) continue;
    const std::int64_t offset = r.svarint();
    const std::uint64_t n = r.varint();
    if (!r.ok()) return corrupt("truncated store header");
    if (n == 0 || n > max_buckets) return corrupt("store of " + std::to_string(n) + " buckets");
    const int shift = ExpHistogram::kMaxScale - in.scale;
    const std::int64_t min_index = kMinIndex8 >> shift;
    const std::int64_t max_index = kMaxIndex8 >> shift;
    if (offset < min_index || offset > max_index - static_cast<std::int64_t>(n - 1)) {
      return corrupt("store reaches outside the finite doubles");
    }
    if ((n + 7) / 8 > r.remaining()) return corrupt("truncated store");
    in.offset[k] = static_cast<std::int32_t>(offset);
    std::vector<std::uint64_t>& counts = in.counts[k];
    counts.resize(static_cast<std::size_t>((n + 7) / 8 * 8));
    const std::uint8_t* p = r.position();
    const std::uint8_t* const end = p + r.remaining();
    std::uint64_t narrow = 0;  // counts of width <= 8: at most 2^16 * 2^8, no overflow
    for (std::size_t b = 0; b < counts.size() / 8; ++b) {
      if (p == end) return corrupt("truncated bucket block");
      const unsigned w = *p++;
      const auto avail = static_cast<std::size_t>(end - p);
      if (w > 64 || avail < w) return corrupt("bad bucket block");
      std::uint64_t* v = counts.data() + b * 8;
      sketch::detail::exp_hist_unpack_block(p, avail, w, v);
      p += w;
      if (w <= 8) {
        for (int j = 0; j < 8; ++j) narrow += v[j];
      } else if (w <= 60) {
        std::uint64_t block = 0;  // 8 counts below 2^60: no overflow
        for (int j = 0; j < 8; ++j) block += v[j];
        total += block;
      } else {
        for (int j = 0; j < 8; ++j) total += v[j];
      }
    }
    for (std::size_t j = n; j < counts.size(); ++j) {
      if (counts[j] != 0) return corrupt("non-zero padding");
    }
    counts.resize(static_cast<std::size_t>(n));
    if (counts.front() == 0 || counts.back() == 0) return corrupt("empty first or last bucket");
    total += narrow;
    r.bytes(static_cast<std::size_t>(p - r.position()));
  }
  if (!r.at_end()) return corrupt(std::to_string(r.remaining()) + " trailing bytes");
  if (total + in.zero_count != in.count) return corrupt("bucket counts do not add up to count");
  return Status::ok_status();
}

HistogramMerger::Scratch::Scratch() = default;
HistogramMerger::Scratch::~Scratch() = default;
HistogramMerger::Scratch::Scratch(Scratch&&) noexcept = default;
HistogramMerger::Scratch& HistogramMerger::Scratch::operator=(Scratch&&) noexcept = default;

HistogramMerger::HistogramMerger() = default;
HistogramMerger::~HistogramMerger() = default;
HistogramMerger::HistogramMerger(HistogramMerger&&) noexcept = default;
HistogramMerger& HistogramMerger::operator=(HistogramMerger&&) noexcept = default;

Status HistogramMerger::add(ByteSpan bytes) { return add(bytes, input_); }

Status HistogramMerger::add(ByteSpan bytes, Scratch& scratch) {
  if (!scratch.in_) scratch.in_ = std::make_unique<Input>();
  Input& in = *scratch.in_;
  ES_RETURN_IF_ERROR(decode(bytes, in));
  return add_decoded(in);
}

Status HistogramMerger::add(const sketch::ExpHistogram& h, Scratch& scratch) {
  if (!scratch.in_) scratch.in_ = std::make_unique<Input>();
  Input& in = *scratch.in_;
  const sketch::ExpHistParts p = h.parts();
  in.scale = p.buckets.scale;
  in.max_buckets = p.max_buckets;
  in.count = p.buckets.count;
  in.zero_count = p.buckets.zero_count;
  in.sum = p.sum;
  in.min = p.buckets.min;
  in.max = p.buckets.max;
  const sketch::ExpHistCounts* views[2] = {&p.buckets.positive, &p.buckets.negative};
  const std::int32_t offsets[2] = {p.buckets.positive_offset, p.buckets.negative_offset};
  for (int k = 0; k < 2; ++k) {
    in.present[k] = !views[k]->empty();
    in.offset[k] = offsets[k];
    std::vector<std::uint64_t>& c = in.counts[k];
    c.resize(views[k]->size());
    for (std::size_t i = 0; i < c.size(); ++i) c[i] = (*views[k])[i];
  }
  return add_decoded(in);
}

sketch::ExpHistParts HistogramMerger::parts() const {
  sketch::ExpHistParts parts;
  sketch::ExpHistQuantileParts& q = parts.buckets;
  q.count = count_;
  q.zero_count = zero_count_;
  q.min = min_;
  q.max = max_;
  q.scale = scale_;
  std::int32_t* offsets[2] = {&q.positive_offset, &q.negative_offset};
  sketch::ExpHistCounts* counts[2] = {&q.positive, &q.negative};
  for (int k = 0; k < 2; ++k) {
    const Store& s = stores_[k];
    if (s.empty()) continue;
    *offsets[k] = s.lo;
    *counts[k] =
        wide_counts(s.buf.data() + (s.lo - s.base), static_cast<std::size_t>(s.hi - s.lo + 1));
  }
  parts.sum = sum_;
  parts.max_buckets = max_buckets_;
  return parts;
}

Result<sketch::ExpHistogram> HistogramMerger::to_histogram() const {
  return sketch::ExpHistogram::from_parts(parts());
}

Status HistogramMerger::add_decoded(const Input& in) {
  if (!has_) {
    // As deserialize(): the input's scale and max_buckets.
    has_ = true;
    scale_ = in.scale;
    max_buckets_ = in.max_buckets;
  } else if (in.count == 0) {
    // As merge_serialized() of an empty histogram: nothing but a zero added to the sum.
    sum_ += in.sum;
    return Status::ok_status();
  } else if (count_ > std::numeric_limits<std::uint64_t>::max() - in.count) {
    return Status::out_of_range("histogram merge: combined count " + std::to_string(count_) +
                                " + " + std::to_string(in.count) + " overflows 64 bits");
  }
  // As ExpHistogram::merge(): a common scale, then as many halvings as max_buckets_ needs.
  const int common = std::min(scale_, in.scale);
  const int d_this = scale_ - common;
  const int d_in = in.scale - common;
  int extra = 0;
  for (int k = 0; k < 2; ++k) {
    if (!in.present[k]) continue;
    const std::int32_t in_hi = in.offset[k] + static_cast<std::int32_t>(in.counts[k].size()) - 1;
    std::int32_t lo = in.offset[k] >> d_in;
    std::int32_t hi = in_hi >> d_in;
    if (!stores_[k].empty()) {
      lo = std::min(lo, stores_[k].lo >> d_this);
      hi = std::max(hi, stores_[k].hi >> d_this);
    }
    extra = std::max(extra, extra_downscale(lo, hi, max_buckets_));
  }
  if (d_this + extra > 0) {
    stores_[0].downscale(d_this + extra, scratch_);
    stores_[1].downscale(d_this + extra, scratch_);
    scale_ -= d_this + extra;
  }
  const int shift = d_in + extra;
  for (int k = 0; k < 2; ++k) {
    if (!in.present[k]) continue;
    Store& s = stores_[k];
    const std::vector<std::uint64_t>& c = in.counts[k];
    const std::int32_t in_lo = in.offset[k];
    const std::int32_t in_hi = in_lo + static_cast<std::int32_t>(c.size()) - 1;
    const std::int32_t lo = in_lo >> shift;
    const std::int32_t hi = in_hi >> shift;
    s.cover(lo, hi);
    if (shift == 0) {
      std::uint64_t* dst = &s.at(in_lo);
      for (std::size_t j = 0; j < c.size(); ++j) dst[j] += c[j];
    } else {
      for (std::size_t j = 0; j < c.size(); ++j) {
        s.at((in_lo + static_cast<std::int32_t>(j)) >> shift) += c[j];
      }
    }
    if (s.empty()) {
      s.lo = lo;
      s.hi = hi;
    } else {
      s.lo = std::min(s.lo, lo);
      s.hi = std::max(s.hi, hi);
    }
  }
  count_ += in.count;
  zero_count_ += in.zero_count;
  sum_ += in.sum;
  min_ = std::min(min_, in.min);
  max_ = std::max(max_, in.max);
  return Status::ok_status();
}

double HistogramMerger::quantile(double phi) const {
  return sketch::exp_hist_quantile(parts().buckets, phi);
}

Result<double> HistogramMerger::quantile_of(ByteSpan bytes, double phi, Scratch& scratch) {
  if (!scratch.in_) scratch.in_ = std::make_unique<Input>();
  const Input& in = *scratch.in_;
  ES_RETURN_IF_ERROR(decode(bytes, *scratch.in_));
  sketch::ExpHistQuantileParts parts;
  parts.count = in.count;
  parts.zero_count = in.zero_count;
  parts.min = in.min;
  parts.max = in.max;
  parts.scale = in.scale;
  if (in.present[0]) {
    parts.positive_offset = in.offset[0];
    parts.positive = wide_counts(in.counts[0].data(), in.counts[0].size());
  }
  if (in.present[1]) {
    parts.negative_offset = in.offset[1];
    parts.negative = wide_counts(in.counts[1].data(), in.counts[1].size());
  }
  return sketch::exp_hist_quantile(parts, phi);
}

std::size_t HistogramMerger::memory_bytes() const {
  return sizeof(*this) +
         (stores_[0].buf.capacity() + stores_[1].buf.capacity() + scratch_.capacity()) *
             sizeof(std::uint64_t);
}

void HistogramMerger::serialize(Bytes& out) const {
  std::uint8_t flags = 0;
  for (int k = 0; k < 2; ++k) {
    if (!stores_[k].empty()) flags |= static_cast<std::uint8_t>(1u << k);
  }
  put_u8(out, ExpHistogram::kSerialVersion);
  put_u8(out, static_cast<std::uint8_t>(static_cast<std::int8_t>(scale_)));
  put_u8(out, flags);
  put_varint(out, static_cast<std::uint64_t>(max_buckets_));
  put_varint(out, count_);
  if (count_ > 0) {
    put_f64(out, sum_);
    put_f64(out, min_);
    put_f64(out, max_);
  }
  put_varint(out, zero_count_);
  for (const Store& s : stores_) {
    if (s.empty()) continue;
    const auto n = static_cast<std::size_t>(s.hi - s.lo + 1);
    put_svarint(out, s.lo);
    put_varint(out, n);
    put_blocks(out, s.buf.data() + (s.lo - s.base), n);
  }
}

}  // namespace edgesketch::store
