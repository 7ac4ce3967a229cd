// RowAccumulator: merges stored rows (serialized sketches, as read from part blocks) and
// in-memory aggregates into one aggregate, for scans (one per series and step bucket) and for
// merges of parts (one per key). Serialized histograms and HyperLogLogs are merged straight from
// their bytes (merge_serialized) once the accumulator holds a sketch of that kind.
//
// Thread safety: thread-compatible.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/sketch/window_aggregate.h"
#include "edgesketch/store/part_block.h"

namespace edgesketch::store {

class RowAccumulator {
 public:
  // Merges a stored row. On error (a sketch that does not decode, or that cannot merge with what
  // is held) the scalar fields and the other sketches are still merged and the error is
  // returned so that the caller can count it.
  Status add(const PartRow& row);
  Status add(const sketch::WindowAggregate& agg);
  bool empty() const { return rows_ == 0; }

  // The accumulated aggregate (validated by WindowAggregate::from_parts).
  Result<sketch::WindowAggregate> to_aggregate() &&;
  // Serializes into `out`, whose sketch spans point into h, d and t.
  void to_row(std::uint64_t series_id, std::int64_t window_start, Bytes& h, Bytes& d, Bytes& t,
              PartRow& out) const;

 private:
  Status add_scalars(std::uint64_t count, double sum, double min, double max);

  std::uint64_t rows_ = 0;
  std::uint64_t count_ = 0;
  double sum_ = 0;
  double min_ = std::numeric_limits<double>::infinity();
  double max_ = -std::numeric_limits<double>::infinity();
  std::optional<sketch::ExpHistogram> histogram_;
  std::optional<sketch::HyperLogLog> distinct_;
  std::optional<sketch::TopK> topk_;
};

// Decodes a stored row into an aggregate (validated like any stored row: kCorruption or
// kInvalidArgument when the bytes or the scalars do not hold together).
Result<sketch::WindowAggregate> row_to_aggregate(const PartRow& row);

// Serializes an aggregate's sketches into h, d and t and fills `out` with spans into them.
void aggregate_to_row(std::uint64_t series_id, std::int64_t window_start,
                      const sketch::WindowAggregate& agg, Bytes& h, Bytes& d, Bytes& t,
                      PartRow& out);

}  // namespace edgesketch::store
