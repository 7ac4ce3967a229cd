// WindowAggregate: everything kept for one series over one window: exact count, sum, min and max,
// plus the optional quantile histogram, distinct-count HyperLogLog and top-K summary the series'
// rule asks for. The agent fills one per open window; the wire codec, the outbox, the collector's
// store and its query engine merge them.
//
// Semantics
// ---------
//  - count() counts every reading: numeric values (add_value) and categorical events
//    (add_event). sum/min/max cover the numeric values only; with no numeric value, sum() is 0,
//    min() is +inf and max() is -inf.
//  - Non-finite values (NaN, +-inf) are not added anywhere: the caller counts them as rejected.
//  - merge() is exact for count/min/max and the sketches (each sketch merges exactly and
//    order-independently); sum() is a floating-point sum, so it is exact only while the partial
//    sums are exactly representable (integers below 2^53), otherwise it depends on the order.
//  - A sketch present on only one side of a merge is kept: a series whose rule gained a sketch
//    mid-window still merges with older records. Hence histogram()->count() <= count() and
//    topk()->total() <= count() in general, with equality when every reading fed the sketch.
//
// Thread safety: thread-compatible (const methods may run concurrently; anything else needs
// external synchronization). Copyable and movable; owns its sketches.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "edgesketch/common/status.h"
#include "edgesketch/sketch/exp_histogram.h"
#include "edgesketch/sketch/hyperloglog.h"
#include "edgesketch/sketch/topk.h"

namespace edgesketch::sketch {

// Which sketches a window keeps besides count/sum/min/max, and their parameters.
struct AggregateSpec {
  // Keep an ExpHistogram of the values (quantiles).
  bool quantiles = false;
  // Keep a HyperLogLog fed by add_distinct() (distinct count of a tag or the label).
  bool distinct = false;
  // Keep a TopK fed by add_top() (heaviest values of a tag or the label).
  bool topk = false;
  // Parameters of the histogram when `quantiles` is set.
  ExpHistogramOptions histogram;
  // Parameters of the HyperLogLog when `distinct` is set.
  HllOptions hll;
  // Parameters of the top-K summary when `topk` is set.
  TopKOptions topk_options;
};

class WindowAggregate {
 public:
  // An empty aggregate holding empty sketches for what `spec` enables.
  explicit WindowAggregate(const AggregateSpec& spec = {});

  // Adds a numeric reading to count, sum, min, max and the histogram (when kept). A non-finite
  // v changes nothing. No allocation unless the histogram grows.
  void add_value(double v);
  // Adds a categorical reading: count only.
  void add_event();
  // Feeds the distinct-count sketch a pre-hashed key (hash_key(key, spec.hll.seed)). No-op when
  // the aggregate keeps no HyperLogLog.
  void add_distinct(std::uint64_t hash);
  // Feeds the top-K summary a pre-hashed key (hash == hash_key(key, spec.topk_options.seed)).
  // No-op when the aggregate keeps no TopK.
  void add_top(std::uint64_t hash, std::string_view key);

  // *this becomes the aggregate of both windows' readings. On error *this is unchanged:
  // kFailedPrecondition when both sides hold a sketch of the same kind that cannot merge
  // (HyperLogLog precision or seed differ, top-K seed differs or other's keys may be longer),
  // kOutOfRange when a count would overflow 64 bits. Merging an aggregate into itself doubles it.
  Status merge(const WindowAggregate& other);
  // merge() of an aggregate whose only sketch (if any) is the serialized histogram `histogram`,
  // straight from its bytes (ExpHistogram::merge_serialized: nothing decoded into an object
  // when *this holds a histogram). The parts must be consistent as from_parts() requires (the
  // caller's decoder checked them). Errors as merge() (plus kCorruption for bytes that do not
  // decode); *this is unchanged then.
  Status merge_serialized(std::uint64_t count, double sum, double min, double max,
                          ByteSpan histogram);

  std::uint64_t count() const { return count_; }
  double sum() const { return sum_; }
  // +inf when no numeric value was added.
  double min() const { return min_; }
  // -inf when no numeric value was added.
  double max() const { return max_; }

  // The sketches; nullptr when absent. Valid until *this is modified or destroyed.
  const ExpHistogram* histogram() const { return histogram_ ? &*histogram_ : nullptr; }
  const HyperLogLog* distinct() const { return distinct_ ? &*distinct_ : nullptr; }
  const TopK* topk() const { return topk_ ? &*topk_ : nullptr; }

  // Builds an aggregate from decoded parts (the wire codec, the store). The parts are untrusted
  // and must be consistent, else kInvalidArgument naming the rule and the values:
  //  - sum is finite; min and max are both finite with min <= max, or are +inf and -inf (no
  //    numeric value);
  //  - count == 0 implies no numeric value, sum == 0 and empty sketches; numeric values imply
  //    count >= 1;
  //  - histogram: h->count() <= count; when h->count() > 0 the record has numeric values and
  //    min <= h->min() <= h->max() <= max;
  //  - topk: t->total() <= count.
  static Result<WindowAggregate> from_parts(std::uint64_t count, double sum, double min, double max,
                                            std::optional<ExpHistogram> h,
                                            std::optional<HyperLogLog> d, std::optional<TopK> t);

  // What from_parts() needs to know of the sketches, for receivers that keep them serialized.
  struct PartsSummary {
    const ExpHistogram::SerializedStats* histogram = nullptr;  // nullptr: no histogram
    bool distinct_nonzero = false;              // a HyperLogLog whose estimate() is not 0
    const std::uint64_t* topk_total = nullptr;  // nullptr: no top-K
  };
  // from_parts()'s consistency checks on those summaries: the same Status.
  static Status check_parts(std::uint64_t count, double sum, double min, double max,
                            const PartsSummary& sketches);

  // Equal count, sum, min, max (compared as doubles) and equal sketches (absent == absent).
  friend bool operator==(const WindowAggregate& a, const WindowAggregate& b);

 private:
  WindowAggregate(std::uint64_t count, double sum, double min, double max,
                  std::optional<ExpHistogram> h, std::optional<HyperLogLog> d,
                  std::optional<TopK> t);

  // OK when merge(other) cannot fail; the merge's error otherwise.
  Status check_mergeable(const WindowAggregate& other) const;

  std::uint64_t count_ = 0;
  double sum_ = 0;
  double min_;
  double max_;
  std::optional<ExpHistogram> histogram_;
  std::optional<HyperLogLog> distinct_;
  std::optional<TopK> topk_;
};

}  // namespace edgesketch::sketch
