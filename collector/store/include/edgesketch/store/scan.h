// What the store's scan API takes and returns: label matchers (Prometheus semantics), a time
// range with a step, and per matching series the rows of the chosen tier merged per step bucket.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "edgesketch/sketch/window_aggregate.h"
#include "edgesketch/wire/types.h"

namespace edgesketch::store {

// A label matcher as in PromQL. The metric name is the label "__name__". Regular expressions are
// RE2, as PromQL's (`.` also matches a newline), and anchored: they must match the whole value.
// A series without the label has the value "" for matching, so `team=""` selects series without
// `team` and `team!=""` series with it.
struct LabelMatcher {
  enum class Op : std::uint8_t { kEqual, kNotEqual, kRegexMatch, kRegexNoMatch };
  std::string name;
  Op op = Op::kEqual;
  std::string value;
};

// The name every series carries for its metric.
inline constexpr const char* kMetricLabel = "__name__";

struct ScanRequest {
  std::string tenant;
  // Series must match all matchers; no matchers selects every series of the tenant.
  std::vector<LabelMatcher> matchers;
  // Points are at t = start_ms + k * step_ms for every k >= 0 with t < end_ms. The point at t
  // merges every row of the chosen tier whose window ends in (t - step_ms, t], i.e. the
  // windows that make up (t - step_ms, t] when step_ms is a multiple of the tier's resolution
  // (a row of the tier covers [window_start, window_start + tier_ms)). Because of that rule the
  // same request gives the same points from every tier whose resolution divides step_ms.
  std::int64_t start_ms = 0;
  std::int64_t end_ms = 0;
  std::int64_t step_ms = 0;
  // Resolution of the tier to read. Unset: the coarsest tier whose resolution divides step_ms
  // and start_ms (so its rows partition every point's interval), else the finest tier.
  std::optional<std::uint32_t> tier_ms;
  // Select these series instead of using `matchers` (sorted ascending, unique). Ids of other
  // tenants find no rows.
  std::optional<std::vector<std::uint64_t>> series_ids;
  // Grouping (needs series_ids): when not empty, group_of[i] is the group of series_ids[i] and
  // the scan merges the rows of all series of a group into one accumulator per point. The
  // result then holds one SeriesPoints per group that received a row, with series_id = the
  // group number and an empty key. Memory is O(groups x points) instead of O(series x points).
  std::vector<std::uint32_t> group_of;
  // Which sketches to read and merge; count, sum, min and max always are.
  bool histogram = true;
  bool distinct = true;
  bool topk = true;
  // With `histogram`: when set (φ in [0, 1]), a point carries the quantile φ of its merged
  // histogram instead of the histogram, which the scan then never builds (histogram_quantile
  // needs nothing else). The value is ExpHistogram::quantile(φ) of that histogram, bit for bit.
  std::optional<double> quantile;
  // The most stored rows the scan may merge. The scan counts rows as it reads them and stops
  // once more than this were merged: the result then has rows_limit_exceeded set, rows_read
  // what was read until then (past the limit by at most one block per scan thread), and no
  // series.
  std::uint64_t max_rows = std::numeric_limits<std::uint64_t>::max();
};

struct ScanPoint {
  std::int64_t t_ms = 0;
  // Without the histogram when the request asked for a quantile.
  sketch::WindowAggregate agg;
  // ScanRequest::quantile of the merged histogram; unset when the request did not ask for it or
  // the point has no histogram or an empty one.
  std::optional<double> quantile;
};

struct SeriesPoints {
  std::uint64_t series_id = 0;
  wire::SeriesKey key;
  // Only points that received at least one row, by time ascending.
  std::vector<ScanPoint> points;
};

struct ScanResult {
  std::uint32_t tier_ms = 0;
  // By series_id ascending; series without a point in range are left out.
  std::vector<SeriesPoints> series;
  // Work done, for the query engine's statistics.
  std::uint64_t rows_read = 0;    // stored rows merged (parts and memtable)
  std::uint64_t blocks_read = 0;  // part blocks decompressed
  std::uint64_t blocks_skipped_corrupt = 0;
  // Bytes the scan's cells held at the end of reading (all threads' grids), against
  // StoreOptions::scan_dense_bytes.
  std::uint64_t cell_bytes = 0;
  // ScanRequest::max_rows was exceeded: the scan stopped early and `series` is empty.
  bool rows_limit_exceeded = false;
};

}  // namespace edgesketch::store
