// ExpHistogramAccumulator: the ExpHistogram's accumulator for loops that merge many histograms
// one after another (the collector's scans, rollups and part merges). It merges serialized
// histograms (and ExpHistogram objects) into reusable 8-byte bucket counters and writes the merge
// in the sketch's layout. Unlike ExpHistogram::deserialize() and merge_serialized() it allocates
// nothing once its buffers have grown: a scan merges millions of rows through one accumulator.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/sketch/exp_histogram.h"

namespace edgesketch::sketch {

// Semantics are the sketch's, and so are the bytes: the first add() takes the histogram as
// ExpHistogram::deserialize() would (its scale and max_buckets); every later add() is
// merge_serialized() of the bytes (the common scale, then as many further halvings as
// max_buckets needs: the same merge rule and the same encoder), so serialize() appends exactly
// what serialize() of the ExpHistogram those calls would have built appends, whatever the order
// of the adds. Input is hostile: add() accepts exactly what deserialize() accepts, through the
// same decoder, with the same errors, allocating only for buckets the input holds; it leaves the
// accumulator unchanged when it fails.
//
// Thread safety: thread-compatible.
class ExpHistogramAccumulator {
  struct Decoded;

 public:
  // The decoding buffers of add() (allocated on first use): accumulators that live side by side
  // (one per cell of a scan) share one instead of each growing its own. Thread-compatible; one
  // user at a time.
  class Scratch {
   public:
    Scratch();
    ~Scratch();
    Scratch(Scratch&&) noexcept;
    Scratch& operator=(Scratch&&) noexcept;

   private:
    friend class ExpHistogramAccumulator;
    std::unique_ptr<Decoded> decoded_;
  };

  ExpHistogramAccumulator();
  ~ExpHistogramAccumulator();
  ExpHistogramAccumulator(ExpHistogramAccumulator&&) noexcept;
  ExpHistogramAccumulator& operator=(ExpHistogramAccumulator&&) noexcept;

  // Forgets the histogram held; keeps the buffers.
  void reset();
  // True until the first successful add() after construction or reset().
  bool empty() const { return !has_; }
  // Merges one serialized histogram. kCorruption (bytes that deserialize() rejects, with its
  // message) or kOutOfRange (the combined count overflows 64 bits): the accumulator is unchanged.
  Status add(ByteSpan bytes);
  // add() decoding through `scratch`.
  Status add(ByteSpan bytes, Scratch& scratch);
  // Merges a histogram object, as add() of its bytes does. kOutOfRange when the combined count
  // overflows 64 bits: the accumulator is unchanged.
  Status add(const ExpHistogram& h);
  // Appends the serialized merge to `out`. Precondition: !empty().
  void serialize(Bytes& out) const;
  // The merge as an object: ExpHistogram::deserialize() of serialize(), without the bytes.
  // Precondition: !empty().
  Result<ExpHistogram> to_histogram() const;
  // ExpHistogram::quantile(φ) of the merge, without building it: NaN when empty.
  double quantile(double phi) const;
  // ExpHistogram::quantile(φ) of one serialized histogram, decoded (and validated as add()
  // validates) into `scratch` only: kCorruption for bytes deserialize() rejects.
  static Result<double> quantile_of(ByteSpan bytes, double phi, Scratch& scratch);
  std::uint64_t count() const { return count_; }
  // Heap and object bytes held (not counting scratch buffers).
  std::size_t memory_bytes() const;

 private:
  // One histogram to merge, whoever holds its counts: 1-byte (narrow) or 8-byte counters.
  struct Source;
  static Status decode(ByteSpan bytes, Decoded& d);
  static Source source_of(const Decoded& d);
  // The merge's parts; the counts are views into stores_.
  ExpHistParts parts() const;
  Status add_source(const Source& in);

  bool has_ = false;
  int scale_ = 0;
  std::int32_t max_buckets_ = 0;
  std::uint64_t count_ = 0;
  std::uint64_t zero_count_ = 0;
  double sum_ = 0;
  double min_ = std::numeric_limits<double>::infinity();
  double max_ = -std::numeric_limits<double>::infinity();
  detail::ExpHistStore stores_[2];  // [0] positive, [1] negative; always wide
  Scratch scratch_;                 // of add() without a scratch
};

}  // namespace edgesketch::sketch
