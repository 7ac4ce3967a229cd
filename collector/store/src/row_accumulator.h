// RowAccumulator: merges stored rows (serialized sketches, as read from part blocks or the
// memtable) into one aggregate, for scans (one per series and step bucket), rollups and merges
// of parts (one per key). Histograms are merged through a sketch::ExpHistogramAccumulator, which
// a caller shares between accumulators: the rows added between begin_run() and end_run()
// accumulate in its dense buckets, and end_run() keeps the result serialized, so a scan touching
// millions of rows allocates nothing per row. HyperLogLogs are merged straight from their bytes
// (merge_serialized) once the accumulator holds one.
//
// Thread safety: thread-compatible.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/sketch/exp_histogram_accumulator.h"
#include "edgesketch/sketch/window_aggregate.h"
#include "edgesketch/store/part_block.h"

namespace edgesketch::store {

class RowAccumulator {
 public:
  // Merges one stored row: begin_run(), add_to_run(), end_run(). On error (a sketch that does
  // not decode, or that cannot merge with what is held) the scalar fields and the other sketches
  // are still merged and the error is returned so that the caller can count it.
  Status add(const PartRow& row, sketch::ExpHistogramAccumulator& merger);

  // A run of rows for this accumulator: `merger` starts from the histogram held; it must not
  // serve another run until end_run(). A held histogram that does not decode is dropped and
  // the error returned.
  Status begin_run(sketch::ExpHistogramAccumulator& merger);
  // add() within a run.
  Status add_to_run(const PartRow& row, sketch::ExpHistogramAccumulator& merger);
  Status add_to_run(const PartRow& row, sketch::ExpHistogramAccumulator& merger,
                    sketch::ExpHistogramAccumulator::Scratch& scratch);
  // Keeps the run's histogram.
  void end_run(const sketch::ExpHistogramAccumulator& merger);

  bool empty() const { return rows_ == 0; }
  std::uint64_t rows() const { return rows_; }
  // Merges another accumulator's rows except its histogram (the caller merges that): scalars,
  // distinct and top-K. kOutOfRange when the counts overflow (nothing merged); errors of the
  // sketches are returned after merging the rest.
  Status merge_except_histogram(const RowAccumulator& other);
  // The histogram kept by end_run(), serialized; empty when none.
  ByteSpan histogram() const { return histogram_; }

  // The accumulated aggregate (validated by WindowAggregate::from_parts).
  Result<sketch::WindowAggregate> to_aggregate() &&;
  // The same with `h` as the histogram (none held: precondition histogram().empty()).
  Result<sketch::WindowAggregate> to_aggregate(std::optional<sketch::ExpHistogram> h) &&;
  // Serializes into `out`, whose sketch spans point into h, d and t.
  void to_row(std::uint64_t series_id, std::int64_t window_start, Bytes& h, Bytes& d, Bytes& t,
              PartRow& out) const;

 private:
  Status add_to_run(const PartRow& row, sketch::ExpHistogramAccumulator& merger,
                    sketch::ExpHistogramAccumulator::Scratch* scratch);
  Status add_scalars(std::uint64_t count, double sum, double min, double max);

  std::uint64_t rows_ = 0;
  std::uint64_t count_ = 0;
  double sum_ = 0;
  double min_ = std::numeric_limits<double>::infinity();
  double max_ = -std::numeric_limits<double>::infinity();
  Bytes histogram_;  // serialized; empty when no row had a histogram
  std::optional<sketch::HyperLogLog> distinct_;
  std::optional<sketch::TopK> topk_;
};

}  // namespace edgesketch::store
