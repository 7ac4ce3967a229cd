// Merging stored rows and aggregates.
#include "row_accumulator.h"

namespace edgesketch::store {

Status RowAccumulator::add_scalars(std::uint64_t count, double sum, double min, double max) {
  if (count > std::numeric_limits<std::uint64_t>::max() - count_) {
    return Status::out_of_range("row count overflows 64 bits");
  }
  ++rows_;
  count_ += count;
  sum_ += sum;
  if (min < min_) min_ = min;
  if (max > max_) max_ = max;
  return Status();
}

Status RowAccumulator::add(const PartRow& row, sketch::ExpHistogramAccumulator& merger) {
  Status first = begin_run(merger);
  Status s = add_to_run(row, merger);
  end_run(merger);
  return first.ok() ? s : first;
}

Status RowAccumulator::begin_run(sketch::ExpHistogramAccumulator& merger) {
  merger.reset();
  if (histogram_.empty()) return Status();
  Status s = merger.add(histogram_);
  if (!s.ok()) histogram_.clear();
  return s;
}

void RowAccumulator::end_run(const sketch::ExpHistogramAccumulator& merger) {
  if (merger.empty()) return;
  histogram_.clear();
  merger.serialize(histogram_);
}

Status RowAccumulator::add_to_run(const PartRow& row, sketch::ExpHistogramAccumulator& merger) {
  sketch::ExpHistogramAccumulator::Scratch* none = nullptr;
  return add_to_run(row, merger, none);
}

Status RowAccumulator::add_to_run(const PartRow& row, sketch::ExpHistogramAccumulator& merger,
                                  sketch::ExpHistogramAccumulator::Scratch& scratch) {
  return add_to_run(row, merger, &scratch);
}

Status RowAccumulator::add_to_run(const PartRow& row, sketch::ExpHistogramAccumulator& merger,
                                  sketch::ExpHistogramAccumulator::Scratch* scratch) {
  ES_RETURN_IF_ERROR(add_scalars(row.count, row.sum, row.min, row.max));
  Status first;
  auto keep = [&first](Status s) {
    if (first.ok() && !s.ok()) first = std::move(s);
  };
  if (!row.histogram.empty()) {
    keep(scratch != nullptr ? merger.add(row.histogram, *scratch) : merger.add(row.histogram));
  }
  if (!row.distinct.empty()) {
    if (distinct_) {
      keep(distinct_->merge_serialized(row.distinct));
    } else {
      auto d = sketch::HyperLogLog::deserialize(row.distinct);
      if (d.ok()) {
        distinct_.emplace(std::move(d).value());
      } else {
        keep(d.status());
      }
    }
  }
  if (!row.topk.empty()) {
    auto t = sketch::TopK::deserialize(row.topk);
    if (!t.ok()) {
      keep(t.status());
    } else if (topk_) {
      keep(topk_->merge(*t));
    } else {
      topk_.emplace(std::move(t).value());
    }
  }
  return first;
}

Status RowAccumulator::merge_except_histogram(const RowAccumulator& other) {
  if (other.rows_ == 0) return Status();
  ES_RETURN_IF_ERROR(add_scalars(other.count_, other.sum_, other.min_, other.max_));
  rows_ += other.rows_ - 1;  // add_scalars() counted one
  Status first;
  if (other.distinct_) {
    if (distinct_) {
      first = distinct_->merge(*other.distinct_);
    } else {
      distinct_ = other.distinct_;
    }
  }
  if (other.topk_) {
    if (topk_) {
      Status s = topk_->merge(*other.topk_);
      if (first.ok()) first = std::move(s);
    } else {
      topk_ = other.topk_;
    }
  }
  return first;
}

Result<sketch::WindowAggregate> RowAccumulator::to_aggregate() && {
  std::optional<sketch::ExpHistogram> h;
  if (!histogram_.empty()) {
    ES_ASSIGN_OR_RETURN(h, sketch::ExpHistogram::deserialize(histogram_));
  }
  return sketch::WindowAggregate::from_parts(count_, sum_, min_, max_, std::move(h),
                                             std::move(distinct_), std::move(topk_));
}

Result<sketch::WindowAggregate> RowAccumulator::to_aggregate(
    std::optional<sketch::ExpHistogram> h) && {
  return sketch::WindowAggregate::from_parts(count_, sum_, min_, max_, std::move(h),
                                             std::move(distinct_), std::move(topk_));
}

void RowAccumulator::to_row(std::uint64_t series_id, std::int64_t window_start, Bytes& h, Bytes& d,
                            Bytes& t, PartRow& out) const {
  out = PartRow{};
  out.series_id = series_id;
  out.window_start = window_start;
  out.count = count_;
  out.sum = sum_;
  out.min = min_;
  out.max = max_;
  h.assign(histogram_.begin(), histogram_.end());
  d.clear();
  t.clear();
  out.histogram = h;
  if (distinct_) {
    distinct_->serialize(d);
    out.distinct = d;
  }
  if (topk_) {
    topk_->serialize(t);
    out.topk = t;
  }
}

}  // namespace edgesketch::store
