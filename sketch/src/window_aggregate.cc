// WindowAggregate: exact scalars plus optional sketches for one series and window.
#include "edgesketch/sketch/window_aggregate.h"

#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace edgesketch::sketch {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Merges `theirs` into `mine`: both present -> sketch merge; only theirs -> a copy.
template <typename Sketch>
Status merge_optional(std::optional<Sketch>& mine, const std::optional<Sketch>& theirs) {
  if (!theirs) return Status();
  if (!mine) {
    mine = *theirs;
    return Status();
  }
  return mine->merge(*theirs);
}

}  // namespace

WindowAggregate::WindowAggregate(const AggregateSpec& spec) : min_(kInf), max_(-kInf) {
  if (spec.quantiles) histogram_.emplace(spec.histogram);
  if (spec.distinct) distinct_.emplace(spec.hll);
  if (spec.topk) topk_.emplace(spec.topk_options);
}

WindowAggregate::WindowAggregate(std::uint64_t count, double sum, double min, double max,
                                 std::optional<ExpHistogram> h, std::optional<HyperLogLog> d,
                                 std::optional<TopK> t)
    : count_(count),
      sum_(sum),
      min_(min),
      max_(max),
      histogram_(std::move(h)),
      distinct_(std::move(d)),
      topk_(std::move(t)) {}

void WindowAggregate::add_value(double v) {
  if (!std::isfinite(v)) return;
  ++count_;
  sum_ += v;
  if (v < min_) min_ = v;
  if (v > max_) max_ = v;
  if (histogram_) histogram_->add(v);
}

void WindowAggregate::add_event() { ++count_; }

void WindowAggregate::add_distinct(std::uint64_t hash) {
  if (distinct_) distinct_->add_hash(hash);
}

void WindowAggregate::add_top(std::uint64_t hash, std::string_view key) {
  if (topk_) topk_->add_hashed(hash, key);
}

Status WindowAggregate::check_mergeable(const WindowAggregate& other) const {
  // The sketches' own merge rules, checked up front so that a failing merge changes nothing
  // (the histogram merges first: it leaves itself unchanged when it fails).
  if (count_ > std::numeric_limits<std::uint64_t>::max() - other.count_) {
    return Status::out_of_range(
        fmt::format("window aggregate: merging count {} into count {} overflows 64 bits",
                    other.count_, count_));
  }
  if (distinct_ && other.distinct_ &&
      (distinct_->precision() != other.distinct_->precision() ||
       distinct_->seed() != other.distinct_->seed())) {
    return Status::failed_precondition(fmt::format(
        "window aggregate: cannot merge HyperLogLog (precision {}, seed {:#x}) into one with "
        "precision {}, seed {:#x}; use the same HllOptions for the series",
        other.distinct_->precision(), other.distinct_->seed(), distinct_->precision(),
        distinct_->seed()));
  }
  if (topk_ && other.topk_ &&
      (topk_->seed() != other.topk_->seed() ||
       other.topk_->max_key_bytes() > topk_->max_key_bytes())) {
    return Status::failed_precondition(fmt::format(
        "window aggregate: cannot merge top-K (seed {:#x}, max_key_bytes {}) into one with seed "
        "{:#x}, max_key_bytes {}; use the same TopKOptions for the series",
        other.topk_->seed(), other.topk_->max_key_bytes(), topk_->seed(), topk_->max_key_bytes()));
  }
  return Status();
}

Status WindowAggregate::merge(const WindowAggregate& other) {
  ES_RETURN_IF_ERROR(check_mergeable(other));
  if (this == &other) {
    // Sketch self-merges have their own rules; merging a copy keeps this one simple.
    WindowAggregate copy = other;
    return merge(copy);
  }
  ES_RETURN_IF_ERROR(merge_optional(histogram_, other.histogram_));
  ES_RETURN_IF_ERROR(merge_optional(distinct_, other.distinct_));
  ES_RETURN_IF_ERROR(merge_optional(topk_, other.topk_));
  count_ += other.count_;
  sum_ += other.sum_;
  if (other.min_ < min_) min_ = other.min_;
  if (other.max_ > max_) max_ = other.max_;
  return Status();
}

Status WindowAggregate::merge_serialized(std::uint64_t count, double sum, double min, double max,
                                         ByteSpan histogram) {
  if (count_ > std::numeric_limits<std::uint64_t>::max() - count) {
    return Status::out_of_range(fmt::format(
        "window aggregate: merging count {} into count {} overflows 64 bits", count, count_));
  }
  if (!histogram.empty()) {
    if (histogram_) {
      ES_RETURN_IF_ERROR(histogram_->merge_serialized(histogram));
    } else {
      ES_ASSIGN_OR_RETURN(ExpHistogram h, ExpHistogram::deserialize(histogram));
      histogram_.emplace(std::move(h));
    }
  }
  count_ += count;
  sum_ += sum;
  if (min < min_) min_ = min;
  if (max > max_) max_ = max;
  return Status();
}

Status WindowAggregate::check_parts(std::uint64_t count, double sum, double min, double max,
                                    const PartsSummary& sketches) {
  auto bad = [&](std::string_view what) {
    return Status::invalid_argument(fmt::format(
        "window aggregate (count {}, sum {}, min {}, max {}): {}", count, sum, min, max, what));
  };
  if (!std::isfinite(sum)) return bad("sum must be finite");
  const bool no_values = min == kInf && max == -kInf;
  if (!no_values) {
    if (!std::isfinite(min) || !std::isfinite(max)) {
      return bad("min and max must both be finite, or +inf and -inf when there is no value");
    }
    if (min > max) return bad("min must not exceed max");
    if (count == 0) return bad("count is 0 but min and max describe values");
  }
  if (count == 0 && sum != 0) return bad("count is 0 but sum is not");
  if (const ExpHistogram::SerializedStats* h = sketches.histogram; h && h->count > 0) {
    if (h->count > count) {
      return bad(fmt::format("histogram count {} exceeds the count", h->count));
    }
    if (no_values) return bad(fmt::format("histogram holds {} values but min/max none", h->count));
    if (h->min < min || h->max > max) {
      return bad(fmt::format("histogram range [{}, {}] lies outside [min, max]", h->min, h->max));
    }
  }
  if (count == 0 && sketches.distinct_nonzero) {
    return bad("count is 0 but the HyperLogLog is not empty");
  }
  if (sketches.topk_total && *sketches.topk_total > count) {
    return bad(fmt::format("top-K total {} exceeds the count", *sketches.topk_total));
  }
  return Status();
}

Result<WindowAggregate> WindowAggregate::from_parts(std::uint64_t count, double sum, double min,
                                                    double max, std::optional<ExpHistogram> h,
                                                    std::optional<HyperLogLog> d,
                                                    std::optional<TopK> t) {
  ExpHistogram::SerializedStats hs;
  std::uint64_t total = 0;
  PartsSummary summary;
  if (h) {
    hs.count = h->count();
    hs.min = h->min();
    hs.max = h->max();
    hs.sum = h->sum();
    summary.histogram = &hs;
  }
  // The estimate only matters for an empty record.
  summary.distinct_nonzero = d && count == 0 && d->estimate() != 0;
  if (t) {
    total = t->total();
    summary.topk_total = &total;
  }
  ES_RETURN_IF_ERROR(check_parts(count, sum, min, max, summary));
  return WindowAggregate(count, sum, min, max, std::move(h), std::move(d), std::move(t));
}

bool operator==(const WindowAggregate& a, const WindowAggregate& b) {
  return a.count_ == b.count_ && a.sum_ == b.sum_ && a.min_ == b.min_ && a.max_ == b.max_ &&
         a.histogram_ == b.histogram_ && a.distinct_ == b.distinct_ && a.topk_ == b.topk_;
}

}  // namespace edgesketch::sketch
