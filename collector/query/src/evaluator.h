// The evaluator behind QueryEngine: evaluates an expression for all the steps of a query at once.
// Internal to es_collector_query.
//
// Values are kept per series over the steps (not per step over the series): a selector is one
// scan, and operators and functions run over arrays. Where Prometheus' result depends on the
// order of a vector's elements (sort, topk, the first error of a vector match) the series keep
// Prometheus' evaluation order; instant vectors are returned sorted by labels unless sort(),
// sort_desc(), topk() or bottomk() ordered them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "edgesketch/common/status.h"
#include "edgesketch/query/promql_ast.h"
#include "edgesketch/query/query_engine.h"
#include "edgesketch/query/series_source.h"
#include "metric_views.h"

namespace edgesketch::query::eval {

inline constexpr std::string_view kTooManySamples =
    "query processing would load too many samples into memory in query execution";

// A float-valued series over the steps of an evaluation.
struct FloatSeries {
  Labels labels;
  std::vector<double> v;
  std::vector<char> has;  // v[i] is a sample
};
FloatSeries new_float_series(Labels labels, std::size_t n);

// A sketch-valued series: its non-empty steps.
struct SketchSeries {
  Labels labels;
  std::vector<std::pair<std::uint32_t, sketch::WindowAggregate>> points;  // increasing step
  // Empty, or per point the quantile the source computed for histogram_quantile (NaN: the
  // point's histogram is empty or missing); the points' aggregates then have no histogram.
  std::vector<double> quantiles;
};

// An instant vector over the steps: float or sketch series (an empty vector may be either).
struct Vector {
  bool sketch = false;
  // The series are in an order an instant query must keep (sort, sort_desc, topk, bottomk).
  bool ordered = false;
  std::vector<FloatSeries> floats;
  std::vector<SketchSeries> sketches;
  bool empty() const { return floats.empty() && sketches.empty(); }
  std::size_t size() const { return sketch ? sketches.size() : floats.size(); }
  const Labels& labels(std::size_t s) const {
    return sketch ? sketches[s].labels : floats[s].labels;
  }
};

struct Scalar {
  std::vector<double> v;  // one per step
};

struct String {
  std::string s;
};

// A range vector: per series its samples (increasing times); the samples of step i are those
// with a time in (ends[i] − range_ms, ends[i]].
struct RangeSeries {
  Labels labels;
  std::vector<std::int64_t> t;
  std::vector<double> v;
};
struct Matrix {
  std::vector<RangeSeries> series;
  std::vector<std::int64_t> ends;  // one per step, non-decreasing
  std::int64_t range_ms = 0;
};

using Value = std::variant<Scalar, String, Vector, Matrix>;

// The limits of one query, shared by the evaluations of its subqueries.
struct Budget {
  const QueryLimits* limits = nullptr;
  std::size_t series_used = 0;
  std::size_t points_used = 0;

  Status charge_points(std::size_t points);
  Status charge_series(std::size_t series);
  std::size_t points_left() const;
  std::size_t series_left() const;
};

// The steps an expression is evaluated at, and what the query around it fixes.
struct Ctx {
  std::string_view tenant;
  std::int64_t start_ms = 0;  // first step
  std::int64_t step_ms = 0;   // spacing of steps (0 in an instant query)
  std::size_t n = 1;          // number of steps
  // Instant query: a selector's point merges the windows ending in the lookback before it;
  // otherwise (range query, subquery) those ending in the step before it.
  bool instant = true;
  std::int64_t lookback_ms = 0;
  // The query's start and end, for `@ start()` and `@ end()` (also inside subqueries).
  std::int64_t query_start_ms = 0;
  std::int64_t query_end_ms = 0;
  const EngineOptions* options = nullptr;
  Budget* budget = nullptr;

  std::int64_t t(std::size_t i) const { return start_ms + static_cast<std::int64_t>(i) * step_ms; }
  std::int64_t at_time(const AtModifier& at) const;
};

// Evaluates expressions in one context. Not thread-safe; one per evaluation (subqueries make
// their own).
class Evaluator {
 public:
  Evaluator(SeriesSource& source, const Ctx& ctx) : source_(source), ctx_(ctx) {}

  // `want`: the sketches a sketch-valued result must carry (histogram_quantile needs the
  // histograms, distinct_count the HyperLogLogs, …).
  Result<Value> eval(const Expr& e, const ScanFields& want);

 private:
  Result<Value> eval_node(const NumberLiteral& n, const Expr& e, const ScanFields& want);
  Result<Value> eval_node(const StringLiteral& s, const Expr& e, const ScanFields& want);
  Result<Value> eval_node(const Paren& p, const Expr& e, const ScanFields& want);
  Result<Value> eval_node(const VectorSelector& sel, const Expr& e, const ScanFields& want);
  Result<Value> eval_node(const Aggregate& a, const Expr& e, const ScanFields& want);
  Result<Value> eval_node(const Binary& b, const Expr& e, const ScanFields& want);
  Result<Value> eval_node(const Unary& u, const Expr& e, const ScanFields& want);
  Result<Value> eval_node(const Call& c, const Expr& e, const ScanFields& want);
  Result<Value> eval_node(const Subquery& s, const Expr& e, const ScanFields& want);

  // Evaluates an expression the parser typed as an instant vector.
  Result<Vector> eval_vector(const Expr& e, const ScanFields& want);
  // Evaluates a scalar expression (one value per step).
  Result<Scalar> eval_scalar(const Expr& e);

  // Where a selector's points lie: `n` points from `first_t` every `step`, each merging `k`
  // consecutive buckets of `bucket` ms (the windows ending in the bucket before its time).
  struct Grid {
    std::int64_t first_t = 0;
    std::int64_t step = 0;
    std::size_t n = 1;
    std::int64_t bucket = 0;
    std::int64_t k = 1;
    bool broadcast = false;  // `@`: one point, the same for every step of the context
  };
  Result<Grid> selector_grid(const VectorSelector& sel) const;

  // Evaluates a selector. With `agg`, evaluates `agg->op by|without (…) (sel)` by letting the
  // source merge the series of each group while it scans (memory and work per group, not per
  // series), or declines when that does not give the same answer.
  struct Selected {
    bool declined = false;
    Vector vector;
  };
  Result<Selected> select(const VectorSelector& sel, const ScanFields& want, const Aggregate* agg);
  // Maps scanned buckets to the grid's points, merging k consecutive buckets when k > 1.
  Result<std::vector<std::pair<std::uint32_t, sketch::WindowAggregate>>> to_grid_points(
      std::vector<StepPoint> points, const Grid& grid, std::vector<double>* quantiles);
  // The same value at every step of the context (a selector with `@`).
  Vector broadcast(Vector v) const;

  // The samples of a range selector for range functions: the windows of the source's sample
  // resolution, each a sample at its end. `counters_only`: rate and increase, which need the
  // _count and _sum views; `func` names the function in errors.
  Result<Matrix> select_range(const VectorSelector& sel, bool counters_only, std::string_view func);
  // The range vector of a subquery.
  Result<Matrix> eval_subquery(const Subquery& s);
  // The range vector of a range function's argument (range selector or subquery).
  Result<Matrix> eval_matrix(const Expr& e, bool counters_only, std::string_view func);
  // The end of the range of step i of an expression with `offset` and `@`.
  Result<std::vector<std::int64_t>> range_ends(std::int64_t offset_ms,
                                               const std::optional<AtModifier>& at) const;

  // Aggregations (eval_aggregate.cc).
  Result<Value> aggregate_sketches(const Aggregate& a, Vector in);
  Result<Value> aggregate_floats(const Aggregate& a, Vector in, const Scalar* param);
  Result<Value> topk(const Aggregate& a, Vector in, const Scalar& k);
  Result<Value> count_values(const Aggregate& a, Vector in, const std::string& label);

  // Binary operators (eval_binary.cc).
  Result<Value> scalar_vector(const Binary& b, Vector vec, const Scalar& s, bool scalar_left);
  Result<Value> vector_vector(const Binary& b, Vector lhs, Vector rhs);
  Result<Value> set_operation(const Binary& b, Vector lhs, Vector rhs);

  // Functions (eval_call.cc).
  Result<Value> call_range_function(const Call& c);
  Result<Value> call_sketch_function(const Call& c);
  Result<Value> call_label_function(const Call& c, const ScanFields& want);
  Result<Value> topk_items(const Vector& in, const Scalar& k_values);

  SeriesSource& source_;
  const Ctx& ctx_;
};

// `t` when it lies in [kMinTimeMs, kMaxTimeMs], where a range or offset (at most kMaxTimeMs
// long) can still be subtracted without overflow; kInvalidArgument otherwise. Every time an
// evaluation derives (a step less an offset, the start of a subquery) passes through it.
Result<std::int64_t> in_time_range(std::int64_t t);

// Errors of Prometheus' evaluator (HTTP 422, "execution").
Status execution_error(std::string message);

// Checks that no two series share labels at a step, as Prometheus does after every operator
// and function, and merges series with equal labels present at different steps into one.
Status merge_equal_labels(Vector& v);

// kInvalidArgument naming the float views, for an operation `what` that is not defined on
// sketch-valued series; OK for float (or empty) vectors.
Status require_floats(const Vector& v, std::string_view what);

// Which step indexes of a series hold a sample.
std::vector<char> presence(const Vector& v, std::size_t s, std::size_t n);

}  // namespace edgesketch::query::eval
