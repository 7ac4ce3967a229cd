// Exact answers from a record file: per (metric, group, window) count, sum, min, max, exact
// quantiles, exact distinct counts and exact top-K, as JSON lines. Tests and benchmarks compare
// what the collector serves with these.
//
// One line per (metric, group, window) that has readings, sorted by metric name, group values,
// window start:
//   {"metric":"vibration","group":{"site":"site-03","line":"line-2"},
//    "window_start_ms":1700000000000,"window_ms":10000,"count":200,"sum":...,"min":...,
//    "max":...,"p50":...,"p90":...,"p99":...,"p999":...,"distinct":{"device":20},
//    "topk_of":"device","topk":[{"key":"dev-0042","count":12},...]}
// Numeric metrics only: sum, min, max and the quantiles (doubles printed with %.17g). Quantile
// phi of the n sorted values is sorted[floor(phi * (n - 1))], computed in integers as
// sorted[(p * (n - 1)) / 1000] for p = 500, 900, 990, 999. The sum is compensated (Neumaier), so
// it is the correctly rounded sum for all practical inputs, whatever the reading order.
// "distinct" appears when distinct_of is set, "topk_of"/"topk" when topk_of is set; the top-K
// list is ordered by count descending, then key ascending, and has at most k entries. A tag key
// a device does not have, or "label" on a numeric metric, contributes nothing.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "edgesketch/common/status.h"

namespace edgesketch::sim {

struct TruthOptions {
  std::string record_path;
  // Window length; windows start at multiples of it (Unix epoch aligned).
  std::int64_t window_ms = 10'000;
  // Tag keys that form the group: "site", "line", "device" (the device id) or any record tag.
  std::vector<std::string> group_by;
  // Metric names to report; empty = every metric in the record.
  std::vector<std::string> metrics;
  // What to count distinct values of: tag keys or "label". Empty = no "distinct" field.
  std::vector<std::string> distinct_of;
  // What to rank: a tag key or "label"; empty = no top-K.
  std::string topk_of;
  std::uint32_t k = 10;
  // Skip messages flagged as duplicate copies (count each batch once).
  bool dedupe = false;
  // Only readings that meet this condition: comparisons of the value with a number joined by
  // `and` ("value > 5", "value >= -1 and value < 1e3"; ==, !=, <, <=, >, >=). A categorical
  // reading meets no value comparison. The subset of the agent's rule conditions
  // (agent/process/condition.h) that tests compare against, computed here on its own so the two
  // check each other. "" = every reading.
  std::string where;
};

struct TruthSummary {
  std::uint64_t readings_scanned = 0;
  std::uint64_t readings_used = 0;
  std::uint64_t lines = 0;
};

// Reads the record and writes the JSON lines to `out`. Errors: unreadable or corrupt record,
// unknown metric or group-by key, a `where` outside the subset.
Result<TruthSummary> compute_truth(const TruthOptions& options, std::FILE* out);

}  // namespace edgesketch::sim
