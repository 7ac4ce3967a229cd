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

Status RowAccumulator::add(const PartRow& row, HistogramMerger& merger) {
  begin_run(merger);
  Status s = add_to_run(row, merger);
  end_run(merger);
  return s;
}

void RowAccumulator::begin_run(HistogramMerger& merger) const {
  merger.reset();
  // The bytes are the merger's own output, so they decode.
  if (!histogram_.empty()) (void)merger.add(histogram_);
}

void RowAccumulator::end_run(const HistogramMerger& merger) {
  if (merger.empty()) return;
  histogram_.clear();
  merger.serialize(histogram_);
}

Status RowAccumulator::add_to_run(const PartRow& row, HistogramMerger& merger) {
  ES_RETURN_IF_ERROR(add_scalars(row.count, row.sum, row.min, row.max));
  Status first;
  auto keep = [&first](Status s) {
    if (first.ok() && !s.ok()) first = std::move(s);
  };
  if (!row.histogram.empty()) keep(merger.add(row.histogram));
  add_others(row, first);
  return first;
}

Status RowAccumulator::add_decoded(const PartRow& row) {
  ES_RETURN_IF_ERROR(add_scalars(row.count, row.sum, row.min, row.max));
  Status first;
  if (!row.histogram.empty()) {
    if (decoded_) {
      first = decoded_->merge_serialized(row.histogram);
    } else {
      // The first histogram is taken as it is (its scale and max_buckets), as a merger does.
      auto h = sketch::ExpHistogram::deserialize(row.histogram);
      if (h.ok()) {
        decoded_ = std::make_unique<sketch::ExpHistogram>(std::move(h).value());
      } else {
        first = h.status();
      }
    }
  }
  add_others(row, first);
  return first;
}

void RowAccumulator::add_others(const PartRow& row, Status& first) {
  auto keep = [&first](Status s) {
    if (first.ok() && !s.ok()) first = std::move(s);
  };
  if (!row.distinct.empty()) {
    auto& distinct = others().distinct;
    if (distinct) {
      keep(distinct->merge_serialized(row.distinct));
    } else {
      auto d = sketch::HyperLogLog::deserialize(row.distinct);
      if (d.ok()) {
        distinct.emplace(std::move(d).value());
      } else {
        keep(d.status());
      }
    }
  }
  if (!row.topk.empty()) {
    auto& topk = others().topk;
    auto t = sketch::TopK::deserialize(row.topk);
    if (!t.ok()) {
      keep(t.status());
    } else if (topk) {
      keep(topk->merge(*t));
    } else {
      topk.emplace(std::move(t).value());
    }
  }
}

Result<sketch::WindowAggregate> RowAccumulator::to_aggregate() && {
  std::optional<sketch::ExpHistogram> h;
  if (decoded_) {
    h.emplace(std::move(*decoded_));
  } else if (!histogram_.empty()) {
    ES_ASSIGN_OR_RETURN(h, sketch::ExpHistogram::deserialize(histogram_));
  }
  return sketch::WindowAggregate::from_parts(count_, sum_, min_, max_, std::move(h),
                                             others_ ? std::move(others_->distinct) : std::nullopt,
                                             others_ ? std::move(others_->topk) : std::nullopt);
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
  if (others_ && others_->distinct) {
    others_->distinct->serialize(d);
    out.distinct = d;
  }
  if (others_ && others_->topk) {
    others_->topk->serialize(t);
    out.topk = t;
  }
}

Result<sketch::WindowAggregate> row_to_aggregate(const PartRow& row) {
  std::optional<sketch::ExpHistogram> h;
  std::optional<sketch::HyperLogLog> d;
  std::optional<sketch::TopK> t;
  if (!row.histogram.empty()) {
    ES_ASSIGN_OR_RETURN(h, sketch::ExpHistogram::deserialize(row.histogram));
  }
  if (!row.distinct.empty()) {
    ES_ASSIGN_OR_RETURN(d, sketch::HyperLogLog::deserialize(row.distinct));
  }
  if (!row.topk.empty()) {
    ES_ASSIGN_OR_RETURN(t, sketch::TopK::deserialize(row.topk));
  }
  return sketch::WindowAggregate::from_parts(row.count, row.sum, row.min, row.max, std::move(h),
                                             std::move(d), std::move(t));
}

void aggregate_to_row(std::uint64_t series_id, std::int64_t window_start,
                      const sketch::WindowAggregate& agg, Bytes& h, Bytes& d, Bytes& t,
                      PartRow& out) {
  out = PartRow{};
  out.series_id = series_id;
  out.window_start = window_start;
  out.count = agg.count();
  out.sum = agg.sum();
  out.min = agg.min();
  out.max = agg.max();
  h.clear();
  d.clear();
  t.clear();
  if (const auto* x = agg.histogram()) {
    x->serialize(h);
    out.histogram = h;
  }
  if (const auto* x = agg.distinct()) {
    x->serialize(d);
    out.distinct = d;
  }
  if (const auto* x = agg.topk()) {
    x->serialize(t);
    out.topk = t;
  }
}

}  // namespace edgesketch::store
