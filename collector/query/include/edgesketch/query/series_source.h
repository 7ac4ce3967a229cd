// SeriesSource: what the query engine reads. The collector's store implements it (through an
// adapter in the collector app); MemorySeriesSource implements it for tests.
//
// Step buckets. A scan with (start_ms, end_ms, step_ms) returns, for every matching series,
// points at t = start_ms + i·step_ms (t <= end_ms). The point at t is the merge of every stored
// window [ws, ws + w) of that series whose END ws + w lies in (t − step_ms, t], i.e. of the
// windows that make up the interval (t − step_ms, t] (the collector store's rule, and the
// product's: a point never includes data from after t). Example, 10 s windows: with step 10 s
// the window [0 s, 10 s) is in the point at t = 10 s (not at t = 0); with step 60 s the point at
// t = 60 s merges the windows starting at 0, 10, …, 50 s. Points without any window are absent
// (not zero).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edgesketch/common/status.h"
#include "edgesketch/query/label_matcher.h"
#include "edgesketch/query/labels.h"
#include "edgesketch/sketch/window_aggregate.h"

namespace edgesketch::query {

inline constexpr std::int64_t kMinTimeMs = std::numeric_limits<std::int64_t>::min() / 4;
inline constexpr std::int64_t kMaxTimeMs = std::numeric_limits<std::int64_t>::max() / 4;

// One step bucket of one series.
struct StepPoint {
  std::int64_t t_ms = 0;
  sketch::WindowAggregate agg;
  // ScanFields::quantile of the bucket's histogram, when the source computed it (agg then may
  // have no histogram); unset otherwise.
  std::optional<double> quantile;
};

// A series as stored: labels (with `__name__` = the stored metric) and its non-empty step
// buckets in increasing t_ms.
struct SeriesRows {
  Labels labels;
  std::vector<StepPoint> points;
};

// Which sketches a scan must return; count/sum/min/max always come. A source may drop the
// sketches that are not asked for (and skip decoding them).
struct ScanFields {
  bool histogram = false;
  bool distinct = false;
  bool topk = false;
  // With `histogram`: the caller needs only the quantile φ (in [0, 1]) of each bucket's
  // histogram. A source may then set StepPoint::quantile (ExpHistogram::quantile(φ), bit for
  // bit) and leave the histogram out; or ignore this and return histograms.
  std::optional<double> quantile;
};

// PromQL's `by (labels)` / `without (labels)`: which labels make a series' group.
struct ScanGrouping {
  bool without = false;
  std::vector<std::string> labels;
};

// The labels of the group of a series with labels `series` (`without` also drops `__name__`).
Labels group_labels(const Labels& series, const ScanGrouping& grouping);

// Sorted, unique, non-empty values of label `name` among `series`: what label_values() answers
// for a source that lists the selected series first.
std::vector<std::string> label_values_of(const std::vector<Labels>& series, std::string_view name);
// Sorted, unique label names among `series` (label_names() likewise).
std::vector<std::string> label_names_of(const std::vector<Labels>& series);

// Merges scanned series per group: one SeriesRows per group (its group labels) whose point at t
// merges the points at t of the group's series; sorted by labels. For sources that cannot merge
// while scanning.
Result<std::vector<SeriesRows>> group_rows(std::vector<SeriesRows> rows,
                                           const ScanGrouping& grouping);

struct ScanRequest {
  // All must match. May or may not include a `__name__` matcher.
  std::vector<LabelMatcher> matchers;
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
  std::int64_t step_ms = 1;  // > 0
  ScanFields fields;
  // A source returns kResourceExhausted instead of more series or points than this, so a
  // hostile query cannot make it allocate without bound.
  std::size_t max_series = std::numeric_limits<std::size_t>::max();
  std::size_t max_points = std::numeric_limits<std::size_t>::max();
  // Set when the caller needs only the merge of the matching series per group (sum of
  // histograms, counts and sums; min of minimums; max of maximums): the source then returns one
  // SeriesRows per group, labelled with group_labels() and sorted by them, and needs memory for
  // groups x points only. max_series still bounds the series selected; max_points the points
  // returned.
  std::optional<ScanGrouping> group;
  // When not null, the source stores what the scan selected and read there.
  struct Stats {
    std::size_t series = 0;  // series the matchers selected
    std::size_t points = 0;  // stored points (rows) read and merged
  };
  Stats* stats = nullptr;
};

// Thread safety: implementations must allow concurrent calls (the HTTP server runs queries on
// several threads). Tenants are strictly separate: nothing of one tenant may be visible through
// another's calls. The time ranges of series() and label_*() are inclusive [start_ms, end_ms]
// and mean "windows with data in the range": a window [ws, ws + w) counts when it overlaps the
// range, ws <= end_ms and ws + w > start_ms. kMinTimeMs / kMaxTimeMs mean "unbounded".
class SeriesSource {
 public:
  virtual ~SeriesSource() = default;

  // The step buckets of every series matching req.matchers (see the file comment).
  virtual Result<std::vector<SeriesRows>> scan(std::string_view tenant, const ScanRequest& req) = 0;

  // Labels of the series matching `matchers` with data in [start_ms, end_ms] (a source may
  // ignore the time range and return every known series). At most `limit` series, else
  // kResourceExhausted.
  virtual Result<std::vector<Labels>> series(std::string_view tenant,
                                             std::span<const LabelMatcher> matchers,
                                             std::int64_t start_ms, std::int64_t end_ms,
                                             std::size_t limit) = 0;

  // Sorted, unique values of label `name` over the series `matchers` select (all series when
  // empty). `__name__` gives the stored metric names.
  virtual Result<std::vector<std::string>> label_values(std::string_view tenant,
                                                        std::string_view name,
                                                        std::span<const LabelMatcher> matchers,
                                                        std::int64_t start_ms,
                                                        std::int64_t end_ms) = 0;

  // Sorted, unique label names over the series `matchers` select (all series when empty).
  virtual Result<std::vector<std::string>> label_names(std::string_view tenant,
                                                       std::span<const LabelMatcher> matchers,
                                                       std::int64_t start_ms,
                                                       std::int64_t end_ms) = 0;

  // The storage resolution (tier width) a scan with this step reads; part of the cache key so
  // that results read from different tiers are never mixed. 0 when the source has one tier.
  virtual std::int64_t resolution_ms(std::int64_t step_ms) const {
    (void)step_ms;
    return 0;
  }

  // The width of one sample of a float view in range functions (`avg_over_time(m_max[5m])`,
  // `rate(m_count[5m])`, docs/query.md) in a range query with step `step_ms`, or in an instant
  // query (step_ms = 0): a scan with this step and a start that is a multiple of it returns one
  // stored window per point. By default the resolution the step reads (for an instant query, the
  // finest); 0 leaves the choice to the engine (EngineOptions::default_sample_ms).
  virtual std::int64_t sample_ms(std::int64_t step_ms) const { return resolution_ms(step_ms); }
};

}  // namespace edgesketch::query
