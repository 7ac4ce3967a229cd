// QueryEngine: evaluates PromQL (docs/query.md) over a SeriesSource, and answers the
// metadata questions of the Prometheus API (series, label names and values) with the same view
// of metrics: every stored metric `m` is visible as the sketch-valued series `m` and the
// float-valued series `m_count`, `m_sum`, `m_min` and `m_max`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "edgesketch/common/status.h"
#include "edgesketch/query/promql_ast.h"
#include "edgesketch/query/series_source.h"
#include "edgesketch/sketch/topk.h"

namespace edgesketch::query {

// Per-query limits (the HTTP layer fills them per tenant). Exceeding one yields
// kResourceExhausted (Prometheus errorType "execution", HTTP 422).
struct QueryLimits {
  // Series selected by all selectors of one query together.
  std::size_t max_series = 10'000;
  // Samples loaded or produced by one query: stored step points read, float points
  // materialized (series × steps), and the buckets of the histograms a result returns.
  std::size_t max_points = 20'000'000;
};

struct EngineOptions {
  // Instant queries at t merge the windows ENDING in (t − lookback, t] (Prometheus' default
  // lookback delta is 5 m too).
  std::int64_t lookback_ms = 5 * 60 * 1000;
  // Largest k of topk_items() and of the sketch table's top items.
  std::size_t max_topk_items = 1000;
  // The step of a subquery written without one (`m[1h:]`): Prometheus' default evaluation
  // interval.
  std::int64_t default_subquery_step_ms = 60 * 1000;
  // The width of a sample of range functions when the source has no resolution of its own
  // (SeriesSource::sample_ms() returns 0): the agents' default window.
  std::int64_t default_sample_ms = 10 * 1000;
};

enum class ResultType : std::uint8_t { kScalar, kVector, kMatrix, kString };
std::string_view result_type_name(ResultType t);  // "scalar", "vector", "matrix", "string"

struct Sample {
  std::int64_t t_ms = 0;
  double value = 0;
};

// A point of a sketch-valued series: the histogram of its merged aggregate (written as a
// Prometheus native histogram, native_histogram.h).
struct HistogramSample {
  std::int64_t t_ms = 0;
  sketch::ExpHistogram histogram;
};

// A series holds float samples or histogram samples, never both.
struct ResultSeries {
  Labels labels;
  std::vector<Sample> samples;              // increasing t_ms
  std::vector<HistogramSample> histograms;  // increasing t_ms
};

// An evaluated query. kScalar: series[0] holds one sample (empty labels). kVector: each series
// holds one sample or one histogram. kMatrix: series hold one or more samples or histograms (a
// range query, or a subquery at the top of an instant query). kString: string_value at t_ms.
// Series are sorted by labels, except an instant vector that sort(), sort_desc(), topk() or
// bottomk() ordered (as Prometheus). A sketch-valued result (`m`, `sum by (site) (m)`) gives
// the histograms of its points; points whose aggregate keeps no histogram are left out.
struct QueryResult {
  ResultType type = ResultType::kVector;
  std::vector<ResultSeries> series;
  std::string string_value;
  std::int64_t t_ms = 0;
};

// One row of the sketch table (GET /api/v1/sketch): the merge of every selected series and
// window of a group over the time range.
struct SketchRow {
  Labels group;  // the `by` labels of the group
  std::uint64_t count = 0;
  double sum = 0;
  std::optional<double> min, max;
  std::optional<double> p50, p90, p99, p999;  // when the series keep a histogram
  std::optional<double> distinct;             // when they keep a HyperLogLog
  std::vector<sketch::TopKItem> top;          // when they keep a top-K summary
};

// Thread-safe: every method may run concurrently (the engine keeps no per-query state; the
// source must be thread-safe). `source` must outlive the engine.
class QueryEngine {
 public:
  explicit QueryEngine(SeriesSource& source, EngineOptions options = {});

  // Evaluates `expr` at t_ms: each selector point merges the windows [ws, ws + w) whose END
  // ws + w lies in (t − lookback, t], or in (t − range, t] for `m[range]`. Errors:
  // kInvalidArgument for what the data model does not define (arithmetic on sketch-valued
  // series, a sketch-valued result without any histogram, …), kFailedPrecondition for
  // Prometheus' evaluation errors (many-to-many matching, duplicate label sets, label_replace()
  // with a bad regex, …), kResourceExhausted past `limits` (a histogram of the result counts its
  // buckets as samples).
  Result<QueryResult> instant(std::string_view tenant, const Expr& expr, std::int64_t t_ms,
                              const QueryLimits& limits) const;

  // Evaluates `expr` at start, start + step, ..., <= end: each selector point at t merges the
  // windows whose END lies in (t − step, t], or in (t − range, t] for `m[range]` (range must then
  // be a multiple of step), so the points partition time. `@ start()` and `@ end()` are start_ms
  // and end_ms. Preconditions (else kInvalidArgument): step > 0, end >= start. Errors as
  // instant().
  Result<QueryResult> range(std::string_view tenant, const Expr& expr, std::int64_t start_ms,
                            std::int64_t end_ms, std::int64_t step_ms,
                            const QueryLimits& limits) const;

  // Series (visible names) matched by any of the selectors, sorted; at most `limit`. Here and in
  // label_names() / label_values() the range means "windows with data in [start_ms, end_ms]"
  // (SeriesSource).
  Result<std::vector<Labels>> series(std::string_view tenant,
                                     const std::vector<VectorSelector>& selectors,
                                     std::int64_t start_ms, std::int64_t end_ms,
                                     std::size_t limit) const;
  // Label names over the series the selectors match (all series when there is none).
  Result<std::vector<std::string>> label_names(std::string_view tenant,
                                               const std::vector<VectorSelector>& selectors,
                                               std::int64_t start_ms, std::int64_t end_ms) const;
  // Values of label `name` (visible metric names for `__name__`).
  Result<std::vector<std::string>> label_values(std::string_view tenant, std::string_view name,
                                                const std::vector<VectorSelector>& selectors,
                                                std::int64_t start_ms, std::int64_t end_ms) const;

  // The merged sketches of the stored series behind `selector` (any visible name of a metric
  // selects the metric) over the windows ENDING in (start_ms, end_ms], grouped by `by`, with
  // up to `top_k` top items per group. Rows sorted by group.
  Result<std::vector<SketchRow>> sketch_table(std::string_view tenant,
                                              const VectorSelector& selector, std::int64_t start_ms,
                                              std::int64_t end_ms,
                                              const std::vector<std::string>& by, std::size_t top_k,
                                              const QueryLimits& limits) const;

  const EngineOptions& options() const { return options_; }
  SeriesSource& source() const { return source_; }

 private:
  SeriesSource& source_;
  EngineOptions options_;
};

}  // namespace edgesketch::query
