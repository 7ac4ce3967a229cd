// ExpHistogram: adding, downscaling, merging and quantiles. The wire format lives in
// exp_histogram_codec.cc, the bucket-index tables in exp_histogram_index.cc.
#include "edgesketch/sketch/exp_histogram.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <string>

namespace edgesketch::sketch {

namespace detail {

void ExpHistStore::reserve_range(std::int32_t new_lo, std::int32_t new_hi, Growth growth) {
  if (span > 0) {
    new_lo = std::min(new_lo, lo);
    new_hi = std::max(new_hi, hi());
  }
  const auto size = static_cast<std::int64_t>(capacity());
  if (new_lo >= base && new_hi < base + size) return;
  const std::int64_t need = static_cast<std::int64_t>(new_hi) - new_lo + 1;
  if (span == 0 && need <= size) {
    // Every counter is zero: centre the buffer on the new range.
    base = static_cast<std::int32_t>(new_lo - (size - need) / 2);
    return;
  }
  std::int64_t front;
  std::int64_t back;
  if (growth == Growth::kMerges) {
    const std::int64_t grown = span == 0 ? std::max<std::int64_t>(need, 16)
                                         : std::max<std::int64_t>({need + need / 4, size, 64});
    front = (grown - need) / 2;
    back = grown - need - front;
  } else {
    // Geometric slack on the side(s) that grow keeps repeated growth amortized O(1) per bucket.
    const std::int64_t slack = std::max<std::int64_t>(need / 2, 16);
    const bool grow_down = buf.empty() || new_lo < base;
    const bool grow_up = buf.empty() || new_hi >= base + size;
    front = grow_down ? slack : std::int64_t{new_lo} - base;
    back = grow_up ? slack : base + size - 1 - new_hi;
  }
  const auto buckets = static_cast<std::size_t>(front + need + back);
  const std::size_t cb = counter_bytes();
  std::vector<std::uint64_t> grown((buckets * cb + 7) / 8, 0);
  const std::int32_t new_base = static_cast<std::int32_t>(new_lo - front);
  if (span > 0) {
    std::memcpy(reinterpret_cast<unsigned char*>(grown.data()) +
                    static_cast<std::size_t>(lo - new_base) * cb,
                at_lo, span * cb);
  }
  buf = std::move(grown);
  base = new_base;
  fix_pointer();
}

namespace {

// Moves the count of bucket lo + j (j < span) at c[j] to c[((lo + j) >> d) - (lo >> d)], adding
// counts that meet. Each count moves down (never past its own slot), so walking up reads every
// count before its slot is written.
template <typename Counter>
void fold_counts(Counter* c, std::int32_t lo, std::uint32_t span, int d) {
  const std::int32_t new_lo = lo >> d;
  for (std::uint32_t j = 0; j < span; ++j) {
    const Counter v = c[j];
    c[j] = 0;
    Counter& dst = c[((lo + static_cast<std::int32_t>(j)) >> d) - new_lo];
    dst = static_cast<Counter>(dst + v);
  }
}

}  // namespace

void ExpHistStore::downscale(int d) {
  if (d == 0 || span == 0) return;
  const std::int32_t new_lo = lo >> d;
  const std::int32_t new_hi = hi() >> d;
  if (wide) {
    fold_counts(buf.data() + (lo - base), lo, span, d);
  } else {
    fold_counts(at_lo, lo, span, d);
  }
  base = new_lo - (lo - base);  // the new range starts where the old one did
  set_range(new_lo, new_hi);
}

void ExpHistStore::clear() {
  if (span > 0) std::memset(at_lo, 0, span * counter_bytes());
  span = 0;
  fix_pointer();
}

void ExpHistStore::widen() {
  if (wide) return;
  std::vector<std::uint64_t> words(capacity(), 0);
  const unsigned char* const narrow = bytes();
  for (std::size_t i = 0; i < words.size(); ++i) words[i] = narrow[i];
  buf = std::move(words);
  wide = true;
  fix_pointer();
}

int exp_hist_extra_downscale(std::int32_t lo, std::int32_t hi, std::int32_t max_buckets) {
  int d = 0;
  while ((hi >> d) - (lo >> d) + 1 > max_buckets) ++d;
  return d;
}

int exp_hist_merge_downscale(int scale, const ExpHistRange into[2], int from_scale,
                             const ExpHistRange from[2], std::int32_t max_buckets) {
  const int common = std::min(scale, from_scale);
  const int d_into = scale - common;
  const int d_from = from_scale - common;
  int extra = 0;
  for (int k = 0; k < 2; ++k) {
    if (from[k].empty()) continue;
    std::int32_t lo = from[k].lo >> d_from;
    std::int32_t hi = from[k].hi >> d_from;
    if (!into[k].empty()) {
      lo = std::min(lo, into[k].lo >> d_into);
      hi = std::max(hi, into[k].hi >> d_into);
    }
    extra = std::max(extra, exp_hist_extra_downscale(lo, hi, max_buckets));
  }
  return d_into + extra;
}

}  // namespace detail

using detail::ExpHistStore;

ExpHistogram::ExpHistogram(ExpHistogramOptions options)
    : scale_(std::clamp(options.scale, kMinScale, kMaxScale)),
      shift_(kMaxScale - scale_),
      max_buckets_(std::clamp(options.max_buckets, kMinMaxBuckets, kMaxMaxBuckets)) {}

void ExpHistogram::add(double v, std::uint64_t n) {
  if (n == 0) return;
  const std::uint64_t x = std::bit_cast<std::uint64_t>(v) - 1;
  if (!detail::exp_hist_is_normal(x)) {
    add_special(v, n);
    return;
  }
  const std::uint64_t sign = x >> 63;
  ExpHistStore& s = stores_[sign];
  const std::int32_t index = detail::exp_hist_index8(x) >> shift_;
  const std::uint32_t rel = static_cast<std::uint32_t>(index) - static_cast<std::uint32_t>(s.lo);
  if (rel < s.span) {
    add_to_bucket(s, index, n);
  } else {
    add_outside_range(sign, index, n);
  }
  update_stats(v, n);
}

void ExpHistogram::add_to_bucket(ExpHistStore& s, std::int32_t index, std::uint64_t n) {
  if (!s.wide && n > kNarrowMax - s.get(index)) widen();
  s.add_at(index, n);
}

void ExpHistogram::widen() {
  stores_[0].widen();
  stores_[1].widen();
}

void ExpHistogram::update_stats(double v, std::uint64_t n) {
  count_ += n;
  sums_[0] += v * static_cast<double>(n);
  min_ = std::min(min_, v);
  max_ = std::max(max_, v);
}

void ExpHistogram::add_special(double v, std::uint64_t n) {
  if (!std::isfinite(v)) return;
  // ±0 or subnormal. -0 becomes +0 so that min/max do not depend on insertion order.
  if (v == 0) v = 0.0;
  zero_count_ += n;
  update_stats(v, n);
}

void ExpHistogram::add_outside_range(std::uint64_t sign, std::int32_t index, std::uint64_t n) {
  ExpHistStore* s = &stores_[sign];
  std::int32_t lo = s->span ? std::min(s->lo, index) : index;
  std::int32_t hi = s->span ? std::max(s->hi(), index) : index;
  if (static_cast<std::int64_t>(hi) - lo + 1 > max_buckets_) {
    // The other store already fits and keeps fitting at a lower scale.
    const int d = detail::exp_hist_extra_downscale(lo, hi, max_buckets_);
    downscale(d);
    index >>= d;
    lo >>= d;
    hi >>= d;
  }
  s->reserve_range(lo, hi);
  add_to_bucket(*s, index, n);
  s->set_range(lo, hi);
}

void ExpHistogram::downscale(int d) {
  if (d == 0) return;
  assert(scale_ - d >= kMinScale);
  widen_for(count_);  // counts that meet add up, to at most count_
  stores_[0].downscale(d);
  stores_[1].downscale(d);
  scale_ -= d;
  shift_ += d;
}

Status ExpHistogram::merge(const ExpHistogram& other) {
  if (&other == this) {
    const ExpHistogram copy = other;
    return merge(copy);
  }
  if (other.count_ == 0) return Status::ok_status();
  if (count_ > std::numeric_limits<std::uint64_t>::max() - other.count_) {
    return Status::out_of_range("histogram merge: combined count " + std::to_string(count_) +
                                " + " + std::to_string(other.count_) +
                                " overflows 64 bits; split the series before merging");
  }
  widen_for(count_ + other.count_);
  const detail::ExpHistRange into[2] = {stores_[0].range(), stores_[1].range()};
  const detail::ExpHistRange from[2] = {other.stores_[0].range(), other.stores_[1].range()};
  downscale(detail::exp_hist_merge_downscale(scale_, into, other.scale_, from, max_buckets_));
  const int shift = other.scale_ - scale_;
  for (int k = 0; k < 2; ++k) {
    ExpHistStore& a = stores_[k];
    const ExpHistStore& b = other.stores_[k];
    if (b.span == 0) continue;
    const std::int32_t lo = b.lo >> shift;
    const std::int32_t hi = b.hi() >> shift;
    a.reserve_range(lo, hi);
    if (shift == 0 && a.wide && b.wide) {
      const std::uint64_t* src = b.buf.data() + (b.lo - b.base);
      std::uint64_t* dst = a.buf.data() + (b.lo - a.base);
      for (std::uint32_t i = 0; i < b.span; ++i) dst[i] += src[i];
    } else {
      // Narrow *this: every sum fits (see widen_for above).
      for (std::int32_t i = b.lo; i <= b.hi(); ++i) a.add_at(i >> shift, b.get(i));
    }
    const std::int32_t new_lo = a.span ? std::min(a.lo, lo) : lo;
    const std::int32_t new_hi = a.span ? std::max(a.hi(), hi) : hi;
    a.set_range(new_lo, new_hi);
  }
  count_ += other.count_;
  zero_count_ += other.zero_count_;
  sums_[0] += other.sum();
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  return Status::ok_status();
}

namespace {

// 2γ^(i+1)/(γ+1): the point of (γ^i, γ^(i+1)] with the smallest maximum relative error.
double bucket_representative(std::int32_t index, int scale) {
  const double gamma = std::exp2(std::exp2(-scale));
  const double factor = 2.0 / (gamma + 1.0);
  const std::int64_t upper = static_cast<std::int64_t>(index) + 1;  // log_γ of the upper bound
  if (scale <= 0) return std::ldexp(factor, static_cast<int>(upper << -scale));
  // upper / 2^scale = whole + fraction/2^scale; ldexp keeps the huge/tiny part exact.
  const std::int64_t whole = upper >> scale;
  const std::int64_t fraction = upper - (whole << scale);
  return std::ldexp(std::exp2(std::ldexp(static_cast<double>(fraction), -scale)) * factor,
                    static_cast<int>(whole));
}

// The index of the bucket of `c` where the running total `seen` (updated) first exceeds `rank`,
// walking up (`up`) or down; c.size() when it does not. Whole groups of 8 buckets are skipped
// on their sum (no overflow: the counts add up to at most count).
std::size_t find_rank(const ExpHistCounts& c, std::uint64_t rank, std::uint64_t& seen, bool up) {
  const std::size_t n = c.size();
  std::size_t done = 0;  // buckets consumed from the walk's start
  auto at = [&](std::size_t k) { return up ? c[k] : c[n - 1 - k]; };
  while (n - done >= 8) {
    std::uint64_t sum = 0;
    if (up) {
      for (std::size_t j = 0; j < 8; ++j) sum += c[done + j];
    } else {
      for (std::size_t j = 0; j < 8; ++j) sum += c[n - 8 - done + j];
    }
    if (rank < seen + sum) break;
    seen += sum;
    done += 8;
  }
  for (; done < n; ++done) {
    seen += at(done);
    if (rank < seen) return up ? done : n - 1 - done;
  }
  return n;
}

}  // namespace

double exp_hist_quantile(const ExpHistQuantileParts& h, double phi) {
  if (h.count == 0 || std::isnan(phi)) return std::numeric_limits<double>::quiet_NaN();
  phi = std::clamp(phi, 0.0, 1.0);
  const double last = static_cast<double>(h.count - 1);
  std::uint64_t rank = h.count - 1;
  if (phi * last < last) rank = static_cast<std::uint64_t>(std::floor(phi * last));
  // The extreme ranks are known exactly.
  if (rank == 0) return h.min;
  if (rank == h.count - 1) return h.max;
  std::uint64_t seen = 0;
  auto clamped = [&](double x) { return std::clamp(x, h.min, h.max); };
  if (rank > h.count / 2) {
    // The same bucket, found from the largest value down (high quantiles are near that end):
    // with the counts adding up to count, the bucket holding ascending rank r holds descending
    // rank count - 1 - r.
    const std::uint64_t from_top = h.count - 1 - rank;
    std::size_t i = find_rank(h.positive, from_top, seen, /*up=*/false);
    if (i < h.positive.size()) {
      return clamped(
          bucket_representative(h.positive_offset + static_cast<std::int32_t>(i), h.scale));
    }
    seen += h.zero_count;
    if (from_top < seen) return clamped(0.0);
    i = find_rank(h.negative, from_top, seen, /*up=*/true);
    if (i < h.negative.size()) {
      return clamped(
          -bucket_representative(h.negative_offset + static_cast<std::int32_t>(i), h.scale));
    }
    return h.min;  // unreachable while the counts add up to count
  }
  // Most negative first: the negative store from its highest index down.
  std::size_t i = find_rank(h.negative, rank, seen, /*up=*/false);
  if (i < h.negative.size()) {
    return clamped(
        -bucket_representative(h.negative_offset + static_cast<std::int32_t>(i), h.scale));
  }
  seen += h.zero_count;
  if (rank < seen) return clamped(0.0);
  i = find_rank(h.positive, rank, seen, /*up=*/true);
  if (i < h.positive.size()) {
    return clamped(
        bucket_representative(h.positive_offset + static_cast<std::int32_t>(i), h.scale));
  }
  return h.max;  // unreachable while the counts add up to count
}

double ExpHistogram::quantile(double phi) const { return exp_hist_quantile(parts().buckets, phi); }

ExpHistParts ExpHistogram::parts() const {
  ExpHistParts p;
  p.buckets.count = count_;
  p.buckets.zero_count = zero_count_;
  p.buckets.min = min_;
  p.buckets.max = max_;
  p.buckets.scale = scale_;
  p.buckets.positive_offset = positive_offset();
  p.buckets.positive = positive_counts();
  p.buckets.negative_offset = negative_offset();
  p.buckets.negative = negative_counts();
  p.sum = sum();
  p.max_buckets = max_buckets_;
  return p;
}

double ExpHistogram::relative_error_bound() const {
  const double gamma = std::exp2(std::exp2(-scale_));
  return (gamma - 1.0) / (gamma + 1.0);
}

bool operator==(const ExpHistogram& a, const ExpHistogram& b) {
  auto same_bits = [](double x, double y) {
    return std::bit_cast<std::uint64_t>(x) == std::bit_cast<std::uint64_t>(y);
  };
  auto same_store = [](const detail::ExpHistStore& x, const detail::ExpHistStore& y) {
    if (x.span != y.span || (x.span != 0 && x.lo != y.lo)) return false;
    for (std::int32_t i = x.lo; i < x.lo + static_cast<std::int32_t>(x.span); ++i) {
      if (x.get(i) != y.get(i)) return false;
    }
    return true;
  };
  return a.scale_ == b.scale_ && a.count_ == b.count_ && a.zero_count_ == b.zero_count_ &&
         same_bits(a.sum(), b.sum()) && same_bits(a.min_, b.min_) && same_bits(a.max_, b.max_) &&
         same_store(a.stores_[0], b.stores_[0]) && same_store(a.stores_[1], b.stores_[1]);
}

std::size_t ExpHistogram::memory_bytes() const {
  return sizeof(*this) +
         (stores_[0].buf.capacity() + stores_[1].buf.capacity()) * sizeof(std::uint64_t);
}

}  // namespace edgesketch::sketch
