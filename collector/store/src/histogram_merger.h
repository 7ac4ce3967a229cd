// HistogramMerger: merges serialized ExpHistograms (the layout documented in
// edgesketch/sketch/exp_histogram.h) into dense, reusable bucket arrays and writes the merge
// back in that layout, for the store's hot merge loops (scans, rollups, part merges). Unlike
// ExpHistogram::deserialize()/merge_serialized() it allocates nothing once its buffers have
// grown: a scan merges millions of rows through one merger.
//
// Semantics are those of the sketch: the first add() takes the histogram as deserialize() would
// (its scale and max_buckets), every later add() is ExpHistogram::merge() of the decoded bytes
// (common scale, then as many further halvings as max_buckets needs), so serialize() gives the
// bytes of the ExpHistogram those calls would have built. Input is hostile: add() accepts
// exactly what ExpHistogram::deserialize() accepts and leaves the merger unchanged otherwise.
//
// Thread safety: thread-compatible.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/sketch/exp_histogram.h"

namespace edgesketch::store {

class HistogramMerger {
  struct Input;

 public:
  // The decoding buffers of add() (allocated on first use): mergers that live side by side (one
  // per cell of a scan) share one instead of each growing its own.
  class Scratch {
   public:
    Scratch();
    ~Scratch();
    Scratch(Scratch&&) noexcept;
    Scratch& operator=(Scratch&&) noexcept;

   private:
    friend class HistogramMerger;
    std::unique_ptr<Input> in_;
  };

  HistogramMerger();
  ~HistogramMerger();
  HistogramMerger(HistogramMerger&&) noexcept;
  HistogramMerger& operator=(HistogramMerger&&) noexcept;

  // Forgets the histogram held; keeps the buffers.
  void reset();
  bool empty() const { return !has_; }
  // Merges one serialized histogram. kCorruption (bytes that deserialize() would reject) or
  // kOutOfRange (the combined count overflows 64 bits): the merger is unchanged.
  Status add(ByteSpan bytes);
  // add() decoding through `scratch`.
  Status add(ByteSpan bytes, Scratch& scratch);
  // Merges a histogram object (ExpHistogram::merge() semantics, as add() of its bytes).
  // kOutOfRange when the combined count overflows 64 bits: the merger is unchanged.
  Status add(const sketch::ExpHistogram& h, Scratch& scratch);
  // Appends the serialized merge to `out`. Precondition: !empty().
  void serialize(Bytes& out) const;
  // The merge as an object: ExpHistogram::deserialize() of serialize(), without the bytes.
  // Precondition: !empty().
  Result<sketch::ExpHistogram> to_histogram() const;
  // ExpHistogram::quantile(φ) of the merge, without building it: NaN when empty.
  double quantile(double phi) const;
  // ExpHistogram::quantile(φ) of one serialized histogram, decoded (and validated as add()
  // validates) into `scratch` only: kCorruption for bytes deserialize() would reject.
  static Result<double> quantile_of(ByteSpan bytes, double phi, Scratch& scratch);
  std::uint64_t count() const { return count_; }
  // Heap and object bytes held.
  std::size_t memory_bytes() const;

 private:
  // Dense counts of one sign: counts of indices [base, base + buf.size()); only [lo, hi] may be
  // non-zero, and both ends are non-zero when span() > 0.
  struct Store {
    std::vector<std::uint64_t> buf;
    std::int32_t base = 0;
    std::int32_t lo = 0;
    std::int32_t hi = -1;
    bool empty() const { return hi < lo; }
    std::uint64_t& at(std::int32_t i) { return buf[static_cast<std::size_t>(i - base)]; }
    std::uint64_t at(std::int32_t i) const { return buf[static_cast<std::size_t>(i - base)]; }
    // Makes buf cover [new_lo, new_hi] (and the current range); contents unchanged.
    void cover(std::int32_t new_lo, std::int32_t new_hi);
    // Maps every index i to i >> d, adding counts that meet.
    void downscale(int d, std::vector<std::uint64_t>& scratch);
    void clear();
  };
  // One decoded input (validated), its counts in `counts`.
  struct Input {
    int scale = 0;
    std::int32_t max_buckets = 0;
    std::uint64_t count = 0;
    std::uint64_t zero_count = 0;
    double sum = 0;
    double min = std::numeric_limits<double>::infinity();
    double max = -std::numeric_limits<double>::infinity();
    bool present[2] = {false, false};
    std::int32_t offset[2] = {0, 0};
    std::vector<std::uint64_t> counts[2];
  };

  static Status decode(ByteSpan bytes, Input& in);
  // The merge's parts; the counts are views into stores_.
  sketch::ExpHistParts parts() const;
  Status add_decoded(const Input& in);

  bool has_ = false;
  int scale_ = 0;
  std::int32_t max_buckets_ = 0;
  std::uint64_t count_ = 0;
  std::uint64_t zero_count_ = 0;
  double sum_ = 0;
  double min_ = std::numeric_limits<double>::infinity();
  double max_ = -std::numeric_limits<double>::infinity();
  Store stores_[2];  // [0] positive, [1] negative
  Scratch input_;    // of add() without a scratch
  std::vector<std::uint64_t> scratch_;
};

}  // namespace edgesketch::store
