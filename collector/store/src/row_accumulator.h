// RowAccumulator: merges stored rows (serialized sketches, as read from part blocks or the
// memtable) into one aggregate, for scans (one per series and step bucket), rollups and merges
// of parts (one per key). Histograms are merged through a HistogramMerger, which a caller shares
// between accumulators: the rows added between begin_run() and end_run() accumulate in the
// merger's dense buckets, and end_run() keeps the result serialized, so a scan touching
// millions of rows allocates nothing per row. HyperLogLogs are merged straight from their bytes
// (merge_serialized) once the accumulator holds one.
//
// Thread safety: thread-compatible.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/sketch/window_aggregate.h"
#include "edgesketch/store/part_block.h"
#include "histogram_merger.h"

namespace edgesketch::store {

class RowAccumulator {
 public:
  // Merges one stored row: begin_run(), add_to_run(), end_run(). On error (a sketch that does
  // not decode, or that cannot merge with what is held) the scalar fields and the other sketches
  // are still merged and the error is returned so that the caller can count it.
  Status add(const PartRow& row, HistogramMerger& merger);

  // A run of rows for this accumulator: `merger` starts from the histogram held; it must not
  // serve another run until end_run().
  void begin_run(HistogramMerger& merger) const;
  // add() within a run.
  Status add_to_run(const PartRow& row, HistogramMerger& merger);
  // Keeps the run's histogram.
  void end_run(const HistogramMerger& merger);

  // Merges one stored row for an answer (to_aggregate()): the histogram is kept decoded and
  // merged with ExpHistogram::merge_serialized(), so it is neither serialized nor decoded again
  // at the end. Errors as add(). Not to be mixed with the methods above on one accumulator.
  Status add_decoded(const PartRow& row);

  bool empty() const { return rows_ == 0; }

  // The accumulated aggregate (validated by WindowAggregate::from_parts).
  Result<sketch::WindowAggregate> to_aggregate() &&;
  // Serializes into `out`, whose sketch spans point into h, d and t.
  void to_row(std::uint64_t series_id, std::int64_t window_start, Bytes& h, Bytes& d, Bytes& t,
              PartRow& out) const;

 private:
  Status add_scalars(std::uint64_t count, double sum, double min, double max);
  // Merges the row's HyperLogLog and top-K; the first error goes to `first`.
  void add_others(const PartRow& row, Status& first);

  std::uint64_t rows_ = 0;
  std::uint64_t count_ = 0;
  double sum_ = 0;
  double min_ = std::numeric_limits<double>::infinity();
  double max_ = -std::numeric_limits<double>::infinity();
  Bytes histogram_;                                // serialized; empty when no row had a histogram
  std::unique_ptr<sketch::ExpHistogram> decoded_;  // add_decoded()'s histogram
  // The rarer sketches live apart, so that an accumulator of scalars and a histogram stays
  // small (a scan keeps one per series and point).
  struct Others {
    std::optional<sketch::HyperLogLog> distinct;
    std::optional<sketch::TopK> topk;
  };
  Others& others() {
    if (!others_) others_ = std::make_unique<Others>();
    return *others_;
  }
  std::unique_ptr<Others> others_;
};

// Decodes a stored row into an aggregate (validated like any stored row: kCorruption or
// kInvalidArgument when the bytes or the scalars do not hold together).
Result<sketch::WindowAggregate> row_to_aggregate(const PartRow& row);

// Serializes an aggregate's sketches into h, d and t and fills `out` with spans into them.
void aggregate_to_row(std::uint64_t series_id, std::int64_t window_start,
                      const sketch::WindowAggregate& agg, Bytes& h, Bytes& d, Bytes& t,
                      PartRow& out);

}  // namespace edgesketch::store
