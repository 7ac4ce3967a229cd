// ExpHistogram's wire format (layout table in exp_histogram.h): the pieces of
// exp_histogram_codec.h, and ExpHistogram's serialize(), deserialize(), validate() and
// merge_serialized() built on them (merge_serialized() adds decoded counts straight into the
// sketch).
#include "exp_histogram_codec.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "edgesketch/sketch/exp_histogram.h"

namespace edgesketch::sketch {
namespace exp_hist_codec {
namespace {

std::string u128_string(u128 v) {
  std::string s;
  do {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  } while (v != 0);
  return s;
}

}  // namespace

Status corrupt(const std::string& what) { return Status::corruption("histogram: " + what); }

Status read_header(ByteReader& r, Header& h) {
  const std::uint8_t version = r.u8();
  if (!r.ok()) return corrupt("empty input");
  if (version != ExpHistogram::kSerialVersion) {
    return corrupt("unsupported version " + std::to_string(version) + " (this build reads " +
                   std::to_string(ExpHistogram::kSerialVersion) + ")");
  }
  h.scale = static_cast<std::int8_t>(r.u8());
  h.flags = r.u8();
  const std::uint64_t max_buckets = r.varint();
  h.count = r.varint();
  h.sum = 0;
  h.min = std::numeric_limits<double>::infinity();
  h.max = -std::numeric_limits<double>::infinity();
  if (h.count > 0) {
    h.sum = r.f64();
    h.min = r.f64();
    h.max = r.f64();
  }
  h.zero_count = r.varint();
  if (!r.ok()) return corrupt("truncated or malformed header");
  if (h.scale < ExpHistogram::kMinScale || h.scale > ExpHistogram::kMaxScale) {
    return corrupt("scale " + std::to_string(h.scale) + " outside [" +
                   std::to_string(ExpHistogram::kMinScale) + ", " +
                   std::to_string(ExpHistogram::kMaxScale) + "]");
  }
  if ((h.flags & ~kKnownFlags) != 0) return corrupt("unknown flags " + std::to_string(h.flags));
  if (max_buckets < ExpHistogram::kMinMaxBuckets || max_buckets > ExpHistogram::kMaxMaxBuckets) {
    return corrupt("max_buckets " + std::to_string(max_buckets) + " outside [" +
                   std::to_string(ExpHistogram::kMinMaxBuckets) + ", " +
                   std::to_string(ExpHistogram::kMaxMaxBuckets) + "]");
  }
  h.max_buckets = static_cast<std::int32_t>(max_buckets);
  if (h.count > 0 && !(std::isfinite(h.min) && std::isfinite(h.max) && h.min <= h.max)) {
    return corrupt("min/max not finite and ordered");
  }
  if (h.count == 0 && h.flags != 0) return corrupt("empty histogram with bucket stores");
  if (h.zero_count > h.count) return corrupt("zero_count above count");
  return Status::ok_status();
}

Status read_store_header(ByteReader& r, const Header& h, int store, StoreHeader& sh) {
  const std::int64_t offset = r.svarint();
  const std::uint64_t n = r.varint();
  if (!r.ok()) return corrupt(std::string("truncated ") + kStoreName[store] + " store header");
  if (n == 0 || n > static_cast<std::uint64_t>(h.max_buckets)) {
    return corrupt(std::string(kStoreName[store]) + " store of " + std::to_string(n) +
                   " buckets (allowed 1.." + std::to_string(h.max_buckets) + ")");
  }
  const int shift = ExpHistogram::kMaxScale - h.scale;
  const std::int64_t min_index = kMinIndex8 >> shift;
  const std::int64_t max_index = kMaxIndex8 >> shift;
  // Written so that a hostile offset near ±2^63 cannot overflow (n <= 65536 here).
  if (offset < min_index || offset > max_index - static_cast<std::int64_t>(n - 1)) {
    return corrupt(std::string(kStoreName[store]) + " store of " + std::to_string(n) +
                   " buckets from index " + std::to_string(offset) +
                   " reaches outside the finite doubles at scale " + std::to_string(h.scale));
  }
  // Each 8 buckets take at least their width byte: do not trust n beyond what the input holds.
  if ((n + 7) / 8 > r.remaining()) {
    return corrupt(std::string("truncated ") + kStoreName[store] + " store");
  }
  sh.offset = static_cast<std::int32_t>(offset);
  sh.n = static_cast<std::uint32_t>(n);
  return Status::ok_status();
}

Status check_store_ends(const BlockStats& st, int store) {
  if (st.first == 0 || st.last == 0) {
    return corrupt(std::string("empty first or last bucket in ") + kStoreName[store] + " store");
  }
  return Status::ok_status();
}

Status check_totals(const ByteReader& r, u128 bucket_total, const Header& h) {
  if (!r.at_end()) return corrupt(std::to_string(r.remaining()) + " trailing bytes");
  if (bucket_total + h.zero_count != h.count) {
    return corrupt("bucket counts add up to " + u128_string(bucket_total + h.zero_count) +
                   ", header says " + std::to_string(h.count));
  }
  return Status::ok_status();
}

void put_header(Bytes& out, const Header& h, std::uint8_t flags) {
  put_u8(out, ExpHistogram::kSerialVersion);
  put_u8(out, static_cast<std::uint8_t>(static_cast<std::int8_t>(h.scale)));
  put_u8(out, flags);
  put_varint(out, static_cast<std::uint64_t>(h.max_buckets));
  put_varint(out, h.count);
  if (h.count > 0) {
    put_f64(out, h.sum);
    put_f64(out, h.min);
    put_f64(out, h.max);
  }
  put_varint(out, h.zero_count);
}

}  // namespace exp_hist_codec

namespace {

using detail::ExpHistStore;
using exp_hist_codec::BlockStats;
using exp_hist_codec::check_store_ends;
using exp_hist_codec::check_totals;
using exp_hist_codec::Header;
using exp_hist_codec::kMaxIndex8;
using exp_hist_codec::kMinIndex8;
using exp_hist_codec::kStoreName;
using exp_hist_codec::read_blocks;
using exp_hist_codec::read_header;
using exp_hist_codec::read_store_header;
using exp_hist_codec::StoreHeader;
using exp_hist_codec::u128;

// Adds (or, to undo, subtracts: wrap-around arithmetic makes that exact, also for narrow
// counters) the counts of a decoded store whose buckets map to index (offset + i) >> shift of `s`;
// s covers those indices.
template <bool kSubtract>
Status add_blocks(ByteReader& r, int store, const StoreHeader& sh, int shift, ExpHistStore& s,
                  std::uint32_t max_blocks, BlockStats& st) {
  auto apply = [](auto& dst, std::uint64_t c) {
    using T = std::remove_reference_t<decltype(dst)>;
    if constexpr (kSubtract) {
      dst = static_cast<T>(dst - c);
    } else {
      dst = static_cast<T>(dst + c);
    }
  };
  if (shift == 0) {
    if (s.wide) {
      std::uint64_t* const dst = s.buf.data() + (sh.offset - s.base);
      return read_blocks(r, store, sh.n, max_blocks, st,
                         [dst, apply](std::uint32_t i, std::uint64_t c) { apply(dst[i], c); });
    }
    unsigned char* const dst = s.bytes() + (sh.offset - s.base);
    return read_blocks(r, store, sh.n, max_blocks, st,
                       [dst, apply](std::uint32_t i, std::uint64_t c) { apply(dst[i], c); });
  }
  return read_blocks(r, store, sh.n, max_blocks, st, [&](std::uint32_t i, std::uint64_t c) {
    const std::int32_t index = (sh.offset + static_cast<std::int32_t>(i)) >> shift;
    const auto at = static_cast<std::size_t>(index - s.base);
    if (s.wide) {
      apply(s.buf[at], c);
    } else {
      apply(s.bytes()[at], c);
    }
  });
}

}  // namespace

void ExpHistogram::serialize(Bytes& out) const {
  const Header h{.scale = scale_,
                 .max_buckets = max_buckets_,
                 .count = count_,
                 .sum = sum(),
                 .min = min_,
                 .max = max_,
                 .zero_count = zero_count_};
  const std::int32_t offset[2] = {stores_[0].lo, stores_[1].lo};
  const std::uint32_t n[2] = {stores_[0].span, stores_[1].span};
  if (stores_[0].wide) {
    const std::uint64_t* const counts[2] = {stores_[0].wide_at_lo(), stores_[1].wide_at_lo()};
    exp_hist_codec::put_histogram(out, h, offset, counts, n);
  } else {
    const std::uint8_t* const counts[2] = {stores_[0].at_lo, stores_[1].at_lo};
    exp_hist_codec::put_histogram(out, h, offset, counts, n);
  }
}

Bytes ExpHistogram::serialize() const {
  Bytes out;
  serialize(out);
  return out;
}

Result<ExpHistogram> ExpHistogram::deserialize(ByteSpan bytes) {
  ByteReader r(bytes);
  Header h;
  ES_RETURN_IF_ERROR(read_header(r, h));
  ExpHistogram out(ExpHistogramOptions{.scale = h.scale, .max_buckets = h.max_buckets});
  // Narrow counters when the count bounds every bucket below 256 (a lying count fails the
  // totals check below).
  const bool wide = h.count > kNarrowMax;
  out.stores_[0].wide = out.stores_[1].wide = wide;
  u128 bucket_total = 0;
  for (int k = 0; k < 2; ++k) {
    if (!h.has_store(k)) continue;
    StoreHeader sh;
    ES_RETURN_IF_ERROR(read_store_header(r, h, k, sh));
    ExpHistStore& s = out.stores_[k];
    // sh.n <= 8 * remaining bytes, checked by read_store_header.
    s.buf.assign(wide ? sh.n : (sh.n + 7) / 8, 0);
    s.base = sh.offset;
    s.set_range(sh.offset, sh.offset + static_cast<std::int32_t>(sh.n) - 1);
    BlockStats st;
    constexpr std::uint32_t kAll = std::numeric_limits<std::uint32_t>::max();
    if (wide) {
      std::uint64_t* const dst = s.buf.data();
      ES_RETURN_IF_ERROR(read_blocks(r, k, sh.n, kAll, st,
                                     [dst](std::uint32_t i, std::uint64_t c) { dst[i] = c; }));
    } else {
      unsigned char* const dst = s.bytes();
      ES_RETURN_IF_ERROR(read_blocks(r, k, sh.n, kAll, st, [dst](std::uint32_t i, std::uint64_t c) {
        dst[i] = static_cast<unsigned char>(c);
      }));
    }
    ES_RETURN_IF_ERROR(check_store_ends(st, k));
    bucket_total += st.total;
  }
  ES_RETURN_IF_ERROR(check_totals(r, bucket_total, h));
  out.count_ = h.count;
  out.zero_count_ = h.zero_count;
  out.sums_[0] = h.sum;
  out.min_ = h.min;
  out.max_ = h.max;
  return out;
}

Result<ExpHistogram> ExpHistogram::from_parts(const ExpHistParts& parts) {
  const ExpHistQuantileParts& p = parts.buckets;
  auto bad = [](const std::string& what) {
    return Status::invalid_argument("histogram parts: " + what);
  };
  if (p.scale < kMinScale || p.scale > kMaxScale) return bad("scale outside [-4, 8]");
  if (parts.max_buckets < kMinMaxBuckets || parts.max_buckets > kMaxMaxBuckets) {
    return bad("max_buckets outside [128, 65536]");
  }
  if (p.count > 0 && !(std::isfinite(p.min) && std::isfinite(p.max) && p.min <= p.max)) {
    return bad("min/max not finite and ordered");
  }
  ExpHistogram out(ExpHistogramOptions{.scale = p.scale, .max_buckets = parts.max_buckets});
  const bool wide = p.count > kNarrowMax;
  out.stores_[0].wide = out.stores_[1].wide = wide;
  u128 total = 0;
  const std::int32_t offsets[2] = {p.positive_offset, p.negative_offset};
  const ExpHistCounts* counts[2] = {&p.positive, &p.negative};
  for (int k = 0; k < 2; ++k) {
    const ExpHistCounts& c = *counts[k];
    if (c.empty()) continue;
    const std::size_t n = c.size();
    const int shift = kMaxScale - p.scale;
    if (n > static_cast<std::size_t>(parts.max_buckets) || offsets[k] < (kMinIndex8 >> shift) ||
        std::int64_t{offsets[k]} + static_cast<std::int64_t>(n) - 1 > (kMaxIndex8 >> shift)) {
      return bad(std::string(kStoreName[k]) + " store outside the finite doubles or max_buckets");
    }
    if (c[0] == 0 || c[n - 1] == 0) return bad("empty first or last bucket");
    detail::ExpHistStore& s = out.stores_[k];
    s.buf.assign(wide ? n : (n + 7) / 8, 0);
    s.base = offsets[k];
    s.set_range(offsets[k], offsets[k] + static_cast<std::int32_t>(n) - 1);
    if (wide) {
      std::uint64_t* dst = s.buf.data();
      for (std::size_t i = 0; i < n; ++i) {
        dst[i] = c[i];
        total += c[i];
      }
    } else {
      unsigned char* dst = s.bytes();
      for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t v = c[i];
        if (v > kNarrowMax) return bad("a bucket count above count");
        dst[i] = static_cast<unsigned char>(v);
        total += v;
      }
    }
  }
  if (total + p.zero_count != p.count) return bad("bucket counts do not add up to count");
  out.count_ = p.count;
  out.zero_count_ = p.zero_count;
  if (p.count > 0) {
    out.sums_[0] = parts.sum;
    out.min_ = p.min;
    out.max_ = p.max;
  }
  return out;
}

Status ExpHistogram::merge_serialized(ByteSpan bytes) {
  ByteReader r(bytes);
  Header h;
  ES_RETURN_IF_ERROR(read_header(r, h));
  if (count_ > std::numeric_limits<std::uint64_t>::max() - h.count) {
    return Status::out_of_range("histogram merge: combined count " + std::to_string(count_) +
                                " + " + std::to_string(h.count) +
                                " overflows 64 bits; split the series before merging");
  }
  // Representation only (not undone on error): every bucket stays below count_ + h.count.
  widen_for(count_ + h.count);
  // Downscaling *this cannot be undone if the bytes turn out bad later: decode first instead.
  auto merge_decoded = [&]() -> Status {
    ES_ASSIGN_OR_RETURN(ExpHistogram other, deserialize(bytes));
    return merge(other);
  };
  const std::int32_t saved_scale = scale_;
  if (h.count > 0 && h.scale < scale_) {
    if (count_ > 0) return merge_decoded();
    scale_ = h.scale;  // an empty sketch downscales for free
    shift_ = kMaxScale - scale_;
  }
  const int shift = h.scale - scale_;

  struct Applied {
    int store;
    StoreHeader sh;
    ByteSpan blocks;
    std::uint32_t num_blocks;
  };
  Applied applied[2];
  int num_applied = 0;
  std::int32_t new_lo[2] = {0, 0};
  std::int32_t new_hi[2] = {0, 0};
  u128 bucket_total = 0;
  bool needs_downscale = false;
  Status status;
  for (int k = 0; k < 2 && status.ok(); ++k) {
    if (!h.has_store(k)) continue;
    StoreHeader sh;
    status = read_store_header(r, h, k, sh);
    if (!status.ok()) break;
    ExpHistStore& s = stores_[k];
    std::int32_t lo = sh.offset >> shift;
    std::int32_t hi = (sh.offset + static_cast<std::int32_t>(sh.n) - 1) >> shift;
    if (s.span > 0) {
      lo = std::min(lo, s.lo);
      hi = std::max(hi, s.hi());
    }
    if (hi - lo + 1 > max_buckets_) {
      needs_downscale = true;
      break;
    }
    s.reserve_range(lo, hi);  // capacity only: no visible change
    Applied& a = applied[num_applied++];
    a = Applied{k, sh, ByteSpan(r.position(), r.remaining()), 0};
    BlockStats st;
    status = add_blocks<false>(r, k, sh, shift, s, std::numeric_limits<std::uint32_t>::max(), st);
    a.num_blocks = st.blocks;
    if (status.ok()) status = check_store_ends(st, k);
    bucket_total += st.total;
    new_lo[k] = lo;
    new_hi[k] = hi;
  }
  if (status.ok() && !needs_downscale) status = check_totals(r, bucket_total, h);
  if (!status.ok() || needs_downscale) {
    for (int i = 0; i < num_applied; ++i) {
      const Applied& a = applied[i];
      ByteReader again(a.blocks);
      BlockStats ignored;
      (void)add_blocks<true>(again, a.store, a.sh, shift, stores_[a.store], a.num_blocks, ignored);
    }
    scale_ = saved_scale;
    shift_ = kMaxScale - scale_;
    return needs_downscale ? merge_decoded() : status;
  }
  for (int i = 0; i < num_applied; ++i) {
    const int k = applied[i].store;
    stores_[k].set_range(new_lo[k], new_hi[k]);
  }
  count_ += h.count;
  zero_count_ += h.zero_count;
  sums_[0] += h.sum;
  min_ = std::min(min_, h.min);
  max_ = std::max(max_, h.max);
  return Status::ok_status();
}

Status ExpHistogram::validate(ByteSpan bytes, SerializedStats* stats) {
  // deserialize()'s checks in its order, with a sink that keeps nothing.
  ByteReader r(bytes);
  Header h;
  ES_RETURN_IF_ERROR(read_header(r, h));
  u128 bucket_total = 0;
  for (int k = 0; k < 2; ++k) {
    if (!h.has_store(k)) continue;
    StoreHeader sh;
    ES_RETURN_IF_ERROR(read_store_header(r, h, k, sh));
    BlockStats st;
    ES_RETURN_IF_ERROR(read_blocks(r, k, sh.n, std::numeric_limits<std::uint32_t>::max(), st,
                                   [](std::uint32_t, std::uint64_t) {}));
    ES_RETURN_IF_ERROR(check_store_ends(st, k));
    bucket_total += st.total;
  }
  ES_RETURN_IF_ERROR(check_totals(r, bucket_total, h));
  if (stats != nullptr) {
    stats->count = h.count;
    stats->sum = h.sum;
    stats->min = h.count ? h.min : std::numeric_limits<double>::quiet_NaN();
    stats->max = h.count ? h.max : std::numeric_limits<double>::quiet_NaN();
  }
  return Status::ok_status();
}

}  // namespace edgesketch::sketch
