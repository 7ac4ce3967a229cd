// ExpHistogramAccumulator: decoding through the sketch's codec into reusable buffers, the merge
// rule and store operations of ExpHistogram, and the sketch's encoder.
#include "edgesketch/sketch/exp_histogram_accumulator.h"

#include <algorithm>
#include <string>
#include <vector>

#include "exp_histogram_codec.h"

namespace edgesketch::sketch {

using detail::ExpHistRange;
using detail::ExpHistStore;

// One decoded, validated input: the header and the counts of each store.
struct ExpHistogramAccumulator::Decoded {
  exp_hist_codec::Header header;
  std::int32_t offset[2] = {0, 0};
  std::uint32_t n[2] = {0, 0};           // buckets of each store; 0: absent
  std::vector<std::uint64_t> counts[2];  // at least n[k] of them; grows, never shrinks
};

struct ExpHistogramAccumulator::Source {
  int scale = 0;
  std::int32_t max_buckets = 0;
  std::uint64_t count = 0;
  std::uint64_t zero_count = 0;
  double sum = 0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  std::int32_t offset[2] = {0, 0};
  std::uint32_t n[2] = {0, 0};
  const unsigned char* counts[2] = {nullptr, nullptr};
  bool wide = true;  // counters of 8 bytes (else 1)
};

namespace {

// Adds the n counts c of buckets from_lo.. (mapping index i to i >> shift) into wide store s,
// whose buffer covers them.
template <typename Counter>
void add_counts(ExpHistStore& s, std::int32_t from_lo, const Counter* c, std::uint32_t n,
                int shift) {
  if (shift == 0) {
    std::uint64_t* const dst = s.buf.data() + (from_lo - s.base);
    for (std::uint32_t j = 0; j < n; ++j) dst[j] += c[j];
    return;
  }
  for (std::uint32_t j = 0; j < n; ++j) {
    s.buf[static_cast<std::size_t>(((from_lo + static_cast<std::int32_t>(j)) >> shift) - s.base)] +=
        c[j];
  }
}

}  // namespace

ExpHistogramAccumulator::Scratch::Scratch() = default;
ExpHistogramAccumulator::Scratch::~Scratch() = default;
ExpHistogramAccumulator::Scratch::Scratch(Scratch&&) noexcept = default;
ExpHistogramAccumulator::Scratch& ExpHistogramAccumulator::Scratch::operator=(Scratch&&) noexcept =
    default;

ExpHistogramAccumulator::ExpHistogramAccumulator() {
  stores_[0].wide = true;
  stores_[1].wide = true;
}
ExpHistogramAccumulator::~ExpHistogramAccumulator() = default;
ExpHistogramAccumulator::ExpHistogramAccumulator(ExpHistogramAccumulator&&) noexcept = default;
ExpHistogramAccumulator& ExpHistogramAccumulator::operator=(ExpHistogramAccumulator&&) noexcept =
    default;

void ExpHistogramAccumulator::reset() {
  has_ = false;
  count_ = 0;
  zero_count_ = 0;
  sum_ = 0;
  min_ = std::numeric_limits<double>::infinity();
  max_ = -std::numeric_limits<double>::infinity();
  stores_[0].clear();
  stores_[1].clear();
}

Status ExpHistogramAccumulator::decode(ByteSpan bytes, Decoded& d) {
  namespace codec = exp_hist_codec;
  ByteReader r(bytes);
  ES_RETURN_IF_ERROR(codec::read_header(r, d.header));
  codec::u128 bucket_total = 0;
  for (int k = 0; k < 2; ++k) {
    d.n[k] = 0;
    if (!d.header.has_store(k)) continue;
    codec::StoreHeader sh;
    ES_RETURN_IF_ERROR(codec::read_store_header(r, d.header, k, sh));
    std::vector<std::uint64_t>& counts = d.counts[k];
    // sh.n <= 8 * remaining bytes, checked by read_store_header.
    if (counts.size() < sh.n) counts.resize(sh.n);
    std::uint64_t* const dst = counts.data();
    codec::BlockStats st;
    ES_RETURN_IF_ERROR(codec::read_blocks(r, k, sh.n, std::numeric_limits<std::uint32_t>::max(), st,
                                          [dst](std::uint32_t i, std::uint64_t c) { dst[i] = c; }));
    ES_RETURN_IF_ERROR(codec::check_store_ends(st, k));
    bucket_total += st.total;
    d.offset[k] = sh.offset;
    d.n[k] = sh.n;
  }
  return codec::check_totals(r, bucket_total, d.header);
}

ExpHistogramAccumulator::Source ExpHistogramAccumulator::source_of(const Decoded& d) {
  Source in;
  in.scale = d.header.scale;
  in.max_buckets = d.header.max_buckets;
  in.count = d.header.count;
  in.zero_count = d.header.zero_count;
  in.sum = d.header.sum;
  in.min = d.header.min;
  in.max = d.header.max;
  for (int k = 0; k < 2; ++k) {
    in.offset[k] = d.offset[k];
    in.n[k] = d.n[k];
    in.counts[k] = reinterpret_cast<const unsigned char*>(d.counts[k].data());
  }
  in.wide = true;
  return in;
}

Status ExpHistogramAccumulator::add(ByteSpan bytes) { return add(bytes, scratch_); }

Status ExpHistogramAccumulator::add(ByteSpan bytes, Scratch& scratch) {
  if (!scratch.decoded_) scratch.decoded_ = std::make_unique<Decoded>();
  Decoded& d = *scratch.decoded_;
  ES_RETURN_IF_ERROR(decode(bytes, d));
  return add_source(source_of(d));
}

Status ExpHistogramAccumulator::add(const ExpHistogram& h) {
  Source in;
  in.scale = h.scale_;
  in.max_buckets = h.max_buckets_;
  in.count = h.count_;
  in.zero_count = h.zero_count_;
  in.sum = h.sum();
  in.min = h.min_;
  in.max = h.max_;
  for (int k = 0; k < 2; ++k) {
    in.offset[k] = h.stores_[k].lo;
    in.n[k] = h.stores_[k].span;
    in.counts[k] = h.stores_[k].at_lo;
  }
  in.wide = h.stores_[0].wide;
  return add_source(in);
}

Status ExpHistogramAccumulator::add_source(const Source& in) {
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
                                " + " + std::to_string(in.count) +
                                " overflows 64 bits; split the series before merging");
  }
  ExpHistRange from[2];
  for (int k = 0; k < 2; ++k) {
    if (in.n[k] > 0) {
      from[k] = ExpHistRange{in.offset[k], in.offset[k] + static_cast<std::int32_t>(in.n[k]) - 1};
    }
  }
  const ExpHistRange into[2] = {stores_[0].range(), stores_[1].range()};
  const int d = detail::exp_hist_merge_downscale(scale_, into, in.scale, from, max_buckets_);
  if (d > 0) {
    stores_[0].downscale(d);
    stores_[1].downscale(d);
    scale_ -= d;
  }
  const int shift = in.scale - scale_;
  for (int k = 0; k < 2; ++k) {
    if (from[k].empty()) continue;
    ExpHistStore& s = stores_[k];
    const std::int32_t lo = from[k].lo >> shift;
    const std::int32_t hi = from[k].hi >> shift;
    s.reserve_range(lo, hi, ExpHistStore::Growth::kMerges);
    if (in.wide) {
      add_counts(s, from[k].lo, reinterpret_cast<const std::uint64_t*>(in.counts[k]), in.n[k],
                 shift);
    } else {
      add_counts(s, from[k].lo, in.counts[k], in.n[k], shift);
    }
    s.set_range(s.span ? std::min(s.lo, lo) : lo, s.span ? std::max(s.hi(), hi) : hi);
  }
  count_ += in.count;
  zero_count_ += in.zero_count;
  sum_ += in.sum;
  min_ = std::min(min_, in.min);
  max_ = std::max(max_, in.max);
  return Status::ok_status();
}

void ExpHistogramAccumulator::serialize(Bytes& out) const {
  const exp_hist_codec::Header h{.scale = scale_,
                                 .max_buckets = max_buckets_,
                                 .count = count_,
                                 .sum = sum_,
                                 .min = min_,
                                 .max = max_,
                                 .zero_count = zero_count_};
  const std::int32_t offset[2] = {stores_[0].lo, stores_[1].lo};
  const std::uint32_t n[2] = {stores_[0].span, stores_[1].span};
  const std::uint64_t* const counts[2] = {stores_[0].wide_at_lo(), stores_[1].wide_at_lo()};
  exp_hist_codec::put_histogram(out, h, offset, counts, n);
}

ExpHistParts ExpHistogramAccumulator::parts() const {
  ExpHistParts parts;
  ExpHistQuantileParts& q = parts.buckets;
  q.count = count_;
  q.zero_count = zero_count_;
  q.min = min_;
  q.max = max_;
  q.scale = scale_;
  std::int32_t* offsets[2] = {&q.positive_offset, &q.negative_offset};
  ExpHistCounts* counts[2] = {&q.positive, &q.negative};
  for (int k = 0; k < 2; ++k) {
    const ExpHistStore& s = stores_[k];
    if (s.span == 0) continue;
    *offsets[k] = s.lo;
    *counts[k] = ExpHistCounts(s.at_lo, s.span, /*wide=*/true);
  }
  parts.sum = sum_;
  parts.max_buckets = max_buckets_;
  return parts;
}

Result<ExpHistogram> ExpHistogramAccumulator::to_histogram() const {
  return ExpHistogram::from_parts(parts());
}

double ExpHistogramAccumulator::quantile(double phi) const {
  return exp_hist_quantile(parts().buckets, phi);
}

Result<double> ExpHistogramAccumulator::quantile_of(ByteSpan bytes, double phi, Scratch& scratch) {
  if (!scratch.decoded_) scratch.decoded_ = std::make_unique<Decoded>();
  const Decoded& d = *scratch.decoded_;
  ES_RETURN_IF_ERROR(decode(bytes, *scratch.decoded_));
  ExpHistQuantileParts q;
  q.count = d.header.count;
  q.zero_count = d.header.zero_count;
  q.min = d.header.min;
  q.max = d.header.max;
  q.scale = d.header.scale;
  std::int32_t* offsets[2] = {&q.positive_offset, &q.negative_offset};
  ExpHistCounts* counts[2] = {&q.positive, &q.negative};
  for (int k = 0; k < 2; ++k) {
    if (d.n[k] == 0) continue;
    *offsets[k] = d.offset[k];
    *counts[k] = ExpHistCounts(reinterpret_cast<const unsigned char*>(d.counts[k].data()), d.n[k],
                               /*wide=*/true);
  }
  return exp_hist_quantile(q, phi);
}

std::size_t ExpHistogramAccumulator::memory_bytes() const {
  return sizeof(*this) +
         (stores_[0].buf.capacity() + stores_[1].buf.capacity()) * sizeof(std::uint64_t);
}

}  // namespace edgesketch::sketch
