// The evaluator's dispatch, selectors (with offset and @), range selectors and subqueries.
#include "evaluator.h"

#include <algorithm>
#include <limits>
#include <unordered_map>

#include <fmt/format.h>

#include "edgesketch/common/time_math.h"
#include "edgesketch/query/promql_parser.h"

namespace edgesketch::query::eval {

using sketch::WindowAggregate;

FloatSeries new_float_series(Labels labels, std::size_t n) {
  FloatSeries s;
  s.labels = std::move(labels);
  s.v.assign(n, 0.0);
  s.has.assign(n, 0);
  return s;
}

Status Budget::charge_points(std::size_t points) {
  points_used += points;
  if (points_used > limits->max_points) {
    return Status::resource_exhausted(std::string(kTooManySamples));
  }
  return Status();
}

Status Budget::charge_series(std::size_t series) {
  series_used += series;
  if (series_used > limits->max_series) {
    return Status::resource_exhausted(fmt::format(
        "query would select more than {} series (the tenant's max series per query); narrow the "
        "selectors",
        limits->max_series));
  }
  return Status();
}

std::size_t Budget::points_left() const {
  return limits->max_points - std::min(points_used, limits->max_points);
}

std::size_t Budget::series_left() const {
  return limits->max_series - std::min(series_used, limits->max_series);
}

std::int64_t Ctx::at_time(const AtModifier& at) const {
  switch (at.kind) {
    case AtModifier::Kind::kStart:
      return query_start_ms;
    case AtModifier::Kind::kEnd:
      return query_end_ms;
    case AtModifier::Kind::kTimestamp:
      break;
  }
  return at.t_ms;
}

Result<std::int64_t> in_time_range(std::int64_t t) {
  if (t < kMinTimeMs || t > kMaxTimeMs) {
    return Status::invalid_argument(
        fmt::format("time {} ms (after offsets, ranges and @) is out of the supported range", t));
  }
  return t;
}

Status execution_error(std::string message) {
  return Status::failed_precondition(std::move(message));
}

std::vector<char> presence(const Vector& v, std::size_t s, std::size_t n) {
  if (!v.sketch) return v.floats[s].has;
  std::vector<char> out(n, 0);
  for (const auto& p : v.sketches[s].points) out[p.first] = 1;
  return out;
}

Status require_floats(const Vector& v, std::string_view what) {
  if (!v.sketch || v.empty()) return Status();
  const Labels& l = v.sketches.front().labels;
  const std::string_view name = label_value(l, kMetricNameLabel);
  return Status::invalid_argument(fmt::format(
      "{} on sketch-valued series ({}) is not defined; use the float views such as {}_count, "
      "{}_sum, {}_min or {}_max, or histogram_quantile(φ, …)",
      what, labels_to_string(l), name.empty() ? "m" : name, name.empty() ? "m" : name,
      name.empty() ? "m" : name, name.empty() ? "m" : name));
}

Status merge_equal_labels(Vector& v) {
  const std::size_t size = v.size();
  if (size < 2) return Status();
  std::unordered_map<std::string, std::size_t> first;
  first.reserve(size);
  std::vector<std::size_t> keep;
  keep.reserve(size);
  bool any_duplicate = false;
  for (std::size_t s = 0; s < size; ++s) {
    auto [it, fresh] = first.try_emplace(labels_key(v.labels(s)), s);
    if (fresh) {
      keep.push_back(s);
      continue;
    }
    any_duplicate = true;
    const std::size_t into = it->second;
    const std::string same = "vector cannot contain metrics with the same labelset";
    if (!v.sketch) {
      FloatSeries& dst = v.floats[into];
      FloatSeries& src = v.floats[s];
      for (std::size_t i = 0; i < src.has.size(); ++i) {
        if (!src.has[i]) continue;
        if (dst.has[i]) return execution_error(same);
        dst.has[i] = 1;
        dst.v[i] = src.v[i];
      }
    } else {
      SketchSeries& dst = v.sketches[into];
      SketchSeries& src = v.sketches[s];
      std::vector<std::pair<std::uint32_t, WindowAggregate>> merged;
      std::vector<double> quantiles;
      const bool with_q = !dst.quantiles.empty() || !src.quantiles.empty();
      std::size_t a = 0, b = 0;
      auto q_of = [](const SketchSeries& x, std::size_t j) {
        return j < x.quantiles.size() ? x.quantiles[j] : std::numeric_limits<double>::quiet_NaN();
      };
      while (a < dst.points.size() || b < src.points.size()) {
        if (a < dst.points.size() && b < src.points.size() &&
            dst.points[a].first == src.points[b].first) {
          return execution_error(same);
        }
        if (b == src.points.size() ||
            (a < dst.points.size() && dst.points[a].first < src.points[b].first)) {
          if (with_q) quantiles.push_back(q_of(dst, a));
          merged.push_back(std::move(dst.points[a++]));
        } else {
          if (with_q) quantiles.push_back(q_of(src, b));
          merged.push_back(std::move(src.points[b++]));
        }
      }
      dst.points = std::move(merged);
      dst.quantiles = std::move(quantiles);
    }
  }
  if (!any_duplicate) return Status();
  if (!v.sketch) {
    std::vector<FloatSeries> out;
    out.reserve(keep.size());
    for (std::size_t s : keep) out.push_back(std::move(v.floats[s]));
    v.floats = std::move(out);
  } else {
    std::vector<SketchSeries> out;
    out.reserve(keep.size());
    for (std::size_t s : keep) out.push_back(std::move(v.sketches[s]));
    v.sketches = std::move(out);
  }
  return Status();
}

Result<Value> Evaluator::eval(const Expr& e, const ScanFields& want) {
  return std::visit([&](const auto& node) { return eval_node(node, e, want); }, e.node);
}

Result<Vector> Evaluator::eval_vector(const Expr& e, const ScanFields& want) {
  ES_ASSIGN_OR_RETURN(Value v, eval(e, want));
  if (auto* vec = std::get_if<Vector>(&v)) return std::move(*vec);
  return Status::internal(fmt::format("expected an instant vector from {}", to_string(e)));
}

Result<Scalar> Evaluator::eval_scalar(const Expr& e) {
  ES_ASSIGN_OR_RETURN(Value v, eval(e, ScanFields{}));
  if (auto* s = std::get_if<Scalar>(&v)) return std::move(*s);
  return Status::internal(fmt::format("expected a scalar from {}", to_string(e)));
}

Result<Value> Evaluator::eval_node(const NumberLiteral& n, const Expr&, const ScanFields&) {
  return Value(Scalar{std::vector<double>(ctx_.n, n.value)});
}

Result<Value> Evaluator::eval_node(const StringLiteral& s, const Expr&, const ScanFields&) {
  return Value(String{s.value});
}

Result<Value> Evaluator::eval_node(const Paren& p, const Expr&, const ScanFields& want) {
  return eval(*p.inner, want);
}

Result<Value> Evaluator::eval_node(const VectorSelector& sel, const Expr&, const ScanFields& want) {
  ES_ASSIGN_OR_RETURN(Selected v, select(sel, want, nullptr));
  return Value(std::move(v.vector));
}

Result<Value> Evaluator::eval_node(const Unary& u, const Expr&, const ScanFields& want) {
  ES_ASSIGN_OR_RETURN(Value v, eval(*u.arg, want));
  if (!u.negate) return v;
  if (auto* s = std::get_if<Scalar>(&v)) {
    for (auto& x : s->v) x = -x;
    return v;
  }
  Vector& vec = std::get<Vector>(v);
  ES_RETURN_IF_ERROR(require_floats(vec, "unary minus"));
  for (auto& f : vec.floats) {
    f.labels = drop_metric_name(f.labels);
    for (auto& x : f.v) x = -x;
  }
  ES_RETURN_IF_ERROR(merge_equal_labels(vec));
  return v;
}

Result<Value> Evaluator::eval_node(const Subquery& s, const Expr&, const ScanFields&) {
  ES_ASSIGN_OR_RETURN(Matrix m, eval_subquery(s));
  return Value(std::move(m));
}

Result<Evaluator::Grid> Evaluator::selector_grid(const VectorSelector& sel) const {
  const std::int64_t width = ctx_.instant ? ctx_.lookback_ms : ctx_.step_ms;
  Grid g;
  if (sel.at) {
    // One point at the @ time, whatever the step (Prometheus' step-invariant evaluation).
    ES_ASSIGN_OR_RETURN(g.first_t, in_time_range(ctx_.at_time(*sel.at) - sel.offset_ms));
    g.step = 0;
    g.n = 1;
    g.bucket = sel.range_ms.value_or(width);
    g.broadcast = true;
    return g;
  }
  ES_ASSIGN_OR_RETURN(g.first_t, in_time_range(ctx_.start_ms - sel.offset_ms));
  ES_RETURN_IF_ERROR(in_time_range(ctx_.t(ctx_.n - 1) - sel.offset_ms).status());
  g.step = ctx_.step_ms;
  g.n = ctx_.n;
  g.bucket = width;
  if (sel.range_ms) {
    if (ctx_.instant) {
      g.bucket = *sel.range_ms;
    } else if (*sel.range_ms % ctx_.step_ms != 0) {
      return Status::invalid_argument(fmt::format(
          "the range [{}] of a selector must be a multiple of the query step ({}) in range "
          "queries",
          format_duration_ms(*sel.range_ms), format_duration_ms(ctx_.step_ms)));
    } else {
      g.k = *sel.range_ms / ctx_.step_ms;
    }
  }
  return g;
}

namespace {

// Whether `op` over series of `field` equals that field of the merged aggregate (so a scan may
// merge the series of a group instead of returning them one by one).
bool mergeable(AggregateOp op, Field field) {
  switch (field) {
    case Field::kSketch:
    case Field::kCount:
    case Field::kSum:
      return op == AggregateOp::kSum;
    case Field::kMin:
      return op == AggregateOp::kMin;
    case Field::kMax:
      return op == AggregateOp::kMax;
  }
  return false;
}

bool labels_less(const Labels& a, const Labels& b) { return a < b; }

}  // namespace

Result<Evaluator::Selected> Evaluator::select(const VectorSelector& sel, const ScanFields& want,
                                              const Aggregate* agg) {
  ES_ASSIGN_OR_RETURN(const Grid grid, selector_grid(sel));
  // Buckets at scan_start + j·bucket; the bucket at T merges the windows ending in
  // (T − bucket, T], so the scan reads windows ending in (scan_start − bucket, scan_end]: their
  // data lies in [scan_start − bucket, scan_end − 1], the range the metric names come from.
  const std::int64_t scan_start = grid.first_t - (grid.k - 1) * grid.bucket;
  const std::int64_t scan_end = grid.first_t + static_cast<std::int64_t>(grid.n - 1) * grid.step;
  ES_ASSIGN_OR_RETURN(auto views, resolve_views(source_, ctx_.tenant, sel.matchers,
                                                scan_start - grid.bucket, scan_end - 1));
  std::optional<ScanGrouping> grouping;
  if (agg != nullptr) {
    // A name like m_max has two candidate views (stored m_max, and m's max); keep those with
    // series. One view only: series of several metrics would need merging across scans.
    std::vector<MetricView> present;
    for (auto& view : views) {
      ES_ASSIGN_OR_RETURN(auto names,
                          source_.label_values(ctx_.tenant, kMetricNameLabel,
                                               stored_matchers(sel.matchers, view.stored),
                                               scan_start - grid.bucket, scan_end - 1));
      if (!names.empty()) present.push_back(std::move(view));
    }
    views = std::move(present);
    if (views.size() > 1 || (views.size() == 1 && !mergeable(agg->op, views.front().field))) {
      return Selected{true, {}};
    }
    grouping = ScanGrouping{agg->without, agg->grouping};
  }
  Vector out;
  bool any_sketch = false, any_float = false;
  Budget& budget = *ctx_.budget;
  for (const auto& view : views) {
    ScanRequest req;
    req.matchers = stored_matchers(sel.matchers, view.stored);
    req.start_ms = scan_start;
    req.end_ms = scan_end;
    req.step_ms = grid.bucket;
    if (view.field == Field::kSketch) {
      req.fields = want;
      // Buckets merged into points here must keep their histograms.
      if (grid.k > 1) req.fields.quantile.reset();
    }
    req.max_series = budget.series_left();
    req.max_points = budget.points_left();
    req.group = grouping;
    ScanRequest::Stats scanned;
    req.stats = &scanned;
    auto rows = source_.scan(ctx_.tenant, req);
    if (!rows.ok()) {
      if (rows.status().code() == StatusCode::kResourceExhausted) {
        return Status::resource_exhausted(fmt::format(
            "{} (tenant limits: {} series, {} samples per query; source: {})", kTooManySamples,
            budget.limits->max_series, budget.limits->max_points, rows.status().message()));
      }
      return rows.status().with_context(fmt::format("reading {}", view.visible));
    }
    if (rows->empty()) continue;
    // Grouped scans merge the series' points inside the source: charge what it read.
    ES_RETURN_IF_ERROR(budget.charge_series(grouping ? scanned.series : rows->size()));
    if (grouping) ES_RETURN_IF_ERROR(budget.charge_points(scanned.points));
    for (auto& r : *rows) {
      if (!grouping) ES_RETURN_IF_ERROR(budget.charge_points(r.points.size()));
      if (!grouping) set_label(r.labels, kMetricNameLabel, view.visible);
      std::vector<double> quantiles;
      ES_ASSIGN_OR_RETURN(auto points, to_grid_points(std::move(r.points), grid,
                                                      req.fields.quantile ? &quantiles : nullptr));
      if (view.field == Field::kSketch) {
        any_sketch = true;
        out.sketches.push_back(
            SketchSeries{std::move(r.labels), std::move(points), std::move(quantiles)});
      } else {
        any_float = true;
        ES_RETURN_IF_ERROR(budget.charge_points(grid.n));
        FloatSeries f = new_float_series(std::move(r.labels), grid.n);
        for (const auto& [i, a] : points) {
          if (auto v = field_value(a, view.field)) {
            f.v[i] = *v;
            f.has[i] = 1;
          }
        }
        out.floats.push_back(std::move(f));
      }
    }
  }
  if (any_sketch && any_float) {
    return Status::invalid_argument(
        "selector matches both sketch-valued metrics (m) and float-valued ones (m_count, m_sum, "
        "m_min, m_max); restrict its __name__ matcher to one kind");
  }
  out.sketch = any_sketch;
  // Prometheus' selectors return series in label order (so do its instant results).
  if (out.sketch) {
    std::sort(out.sketches.begin(), out.sketches.end(),
              [](const SketchSeries& a, const SketchSeries& b) {
                return labels_less(a.labels, b.labels);
              });
  } else {
    std::sort(out.floats.begin(), out.floats.end(), [](const FloatSeries& a, const FloatSeries& b) {
      return labels_less(a.labels, b.labels);
    });
  }
  if (grid.broadcast && ctx_.n > 1) out = broadcast(std::move(out));
  return Selected{false, std::move(out)};
}

Vector Evaluator::broadcast(Vector v) const {
  for (auto& f : v.floats) {
    const double x = f.v.front();
    const char has = f.has.front();
    f.v.assign(ctx_.n, x);
    f.has.assign(ctx_.n, has);
  }
  for (auto& s : v.sketches) {
    if (s.points.empty()) continue;
    const WindowAggregate agg = std::move(s.points.front().second);
    const double q = s.quantiles.empty() ? 0 : s.quantiles.front();
    s.points.clear();
    for (std::size_t i = 0; i < ctx_.n; ++i)
      s.points.emplace_back(static_cast<std::uint32_t>(i), agg);
    if (!s.quantiles.empty()) s.quantiles.assign(ctx_.n, q);
  }
  return v;
}

Result<std::vector<std::pair<std::uint32_t, WindowAggregate>>> Evaluator::to_grid_points(
    std::vector<StepPoint> points, const Grid& grid, std::vector<double>* quantiles) {
  std::vector<std::pair<std::uint32_t, WindowAggregate>> out;
  const auto n = static_cast<std::int64_t>(grid.n);
  const std::int64_t k = grid.k;
  const std::int64_t scan_start = grid.first_t - (k - 1) * grid.bucket;
  std::vector<std::pair<std::int64_t, StepPoint*>> buckets;
  for (auto& p : points) {
    const std::int64_t off = p.t_ms - scan_start;
    if (off < 0 || off % grid.bucket != 0) continue;  // not on the grid: a source bug; ignore
    const std::int64_t j = off / grid.bucket;
    if (j >= n + k - 1) continue;
    buckets.emplace_back(j, &p);
  }
  if (k == 1) {
    out.reserve(buckets.size());
    if (quantiles != nullptr) quantiles->reserve(buckets.size());
    for (auto& [j, p] : buckets) {
      out.emplace_back(static_cast<std::uint32_t>(j), std::move(p->agg));
      if (quantiles != nullptr) {
        quantiles->push_back(p->quantile.value_or(std::numeric_limits<double>::quiet_NaN()));
      }
    }
    return out;
  }
  // Point i merges buckets i .. i + k - 1.
  std::size_t lo = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    while (lo < buckets.size() && buckets[lo].first < i) ++lo;
    std::optional<WindowAggregate> acc;
    for (std::size_t b = lo; b < buckets.size() && buckets[b].first <= i + k - 1; ++b) {
      if (!acc) {
        acc = buckets[b].second->agg;
      } else {
        ES_RETURN_IF_ERROR(acc->merge(buckets[b].second->agg));
      }
    }
    if (acc) out.emplace_back(static_cast<std::uint32_t>(i), std::move(*acc));
  }
  return out;
}

Result<std::vector<std::int64_t>> Evaluator::range_ends(std::int64_t offset_ms,
                                                        const std::optional<AtModifier>& at) const {
  std::vector<std::int64_t> ends(ctx_.n);
  for (std::size_t i = 0; i < ctx_.n; ++i) {
    ends[i] = (at ? ctx_.at_time(*at) : ctx_.t(i)) - offset_ms;
  }
  ES_RETURN_IF_ERROR(in_time_range(ends.front()).status());
  ES_RETURN_IF_ERROR(in_time_range(ends.back()).status());
  return ends;
}

Result<Matrix> Evaluator::select_range(const VectorSelector& sel, bool counters_only,
                                       std::string_view func) {
  Matrix m;
  ES_ASSIGN_OR_RETURN(m.ends, range_ends(sel.offset_ms, sel.at));
  m.range_ms = *sel.range_ms;
  std::int64_t r = source_.sample_ms(ctx_.instant ? 0 : ctx_.step_ms);
  if (r <= 0) r = ctx_.options->default_sample_ms;
  // Samples at the multiples T of r in (first end − range, last end]; the sample at T merges the
  // windows ending in (T − r, T]: one stored window of that resolution.
  const std::int64_t first = floor_div(m.ends.front() - m.range_ms, r) * r + r;
  const std::int64_t last = floor_div(m.ends.back(), r) * r;
  if (first > last) return m;
  ES_ASSIGN_OR_RETURN(auto views,
                      resolve_views(source_, ctx_.tenant, sel.matchers, first - r, last - 1));
  Budget& budget = *ctx_.budget;
  for (const auto& view : views) {
    ScanRequest req;
    req.matchers = stored_matchers(sel.matchers, view.stored);
    req.start_ms = first;
    req.end_ms = last;
    req.step_ms = r;
    req.max_series = budget.series_left();
    req.max_points = budget.points_left();
    auto rows = source_.scan(ctx_.tenant, req);
    if (!rows.ok()) {
      if (rows.status().code() == StatusCode::kResourceExhausted) {
        return Status::resource_exhausted(
            fmt::format("{} (source: {})", kTooManySamples, rows.status().message()));
      }
      return rows.status().with_context(fmt::format("reading {}", view.visible));
    }
    if (rows->empty()) continue;
    if (view.field == Field::kSketch) {
      return Status::invalid_argument(fmt::format(
          "{}() over sketch-valued series ({}) is not defined: range functions take the float "
          "views {}_count, {}_sum, {}_min and {}_max",
          func, view.visible, view.visible, view.visible, view.visible, view.visible));
    }
    if (counters_only && view.field != Field::kCount && view.field != Field::kSum) {
      return Status::invalid_argument(fmt::format(
          "{}() over {} is not defined: rate() and increase() take the _count and _sum views, "
          "whose windows are increments; use {}_over_time() for the others",
          func, view.visible, view.field == Field::kMin ? "min" : "max"));
    }
    ES_RETURN_IF_ERROR(budget.charge_series(rows->size()));
    for (auto& row : *rows) {
      ES_RETURN_IF_ERROR(budget.charge_points(row.points.size()));
      RangeSeries s;
      s.labels = std::move(row.labels);
      set_label(s.labels, kMetricNameLabel, view.visible);
      s.t.reserve(row.points.size());
      s.v.reserve(row.points.size());
      for (const auto& p : row.points) {
        auto v = field_value(p.agg, view.field);
        if (!v || p.t_ms < first || p.t_ms > last) continue;
        s.t.push_back(p.t_ms);
        s.v.push_back(*v);
      }
      if (!s.t.empty()) m.series.push_back(std::move(s));
    }
  }
  std::sort(m.series.begin(), m.series.end(), [](const RangeSeries& a, const RangeSeries& b) {
    return labels_less(a.labels, b.labels);
  });
  return m;
}

Result<Matrix> Evaluator::eval_subquery(const Subquery& s) {
  Matrix m;
  ES_ASSIGN_OR_RETURN(m.ends, range_ends(s.offset_ms, s.at));
  m.range_ms = s.range_ms;
  const std::int64_t step = s.step_ms > 0 ? s.step_ms : ctx_.options->default_subquery_step_ms;
  // The inner expression is evaluated at the multiples of the step in (end − range, end].
  ES_ASSIGN_OR_RETURN(const std::int64_t first,
                      in_time_range(floor_div(m.ends.front() - m.range_ms, step) * step + step));
  const std::int64_t last = floor_div(m.ends.back(), step) * step;
  if (first > last) return m;
  const std::int64_t n = (last - first) / step + 1;
  if (static_cast<std::uint64_t>(n) > ctx_.budget->points_left()) {
    return Status::resource_exhausted(std::string(kTooManySamples));
  }
  Ctx inner = ctx_;
  inner.start_ms = first;
  inner.step_ms = step;
  inner.n = static_cast<std::size_t>(n);
  inner.instant = false;
  Evaluator ev(source_, inner);
  ES_ASSIGN_OR_RETURN(Vector v, ev.eval_vector(*s.inner, ScanFields{}));
  ES_RETURN_IF_ERROR(require_floats(v, "a subquery"));
  for (auto& f : v.floats) {
    RangeSeries rs;
    rs.labels = std::move(f.labels);
    for (std::size_t i = 0; i < inner.n; ++i) {
      if (!f.has[i]) continue;
      rs.t.push_back(inner.t(i));
      rs.v.push_back(f.v[i]);
    }
    if (!rs.t.empty()) m.series.push_back(std::move(rs));
  }
  std::sort(m.series.begin(), m.series.end(), [](const RangeSeries& a, const RangeSeries& b) {
    return labels_less(a.labels, b.labels);
  });
  return m;
}

Result<Matrix> Evaluator::eval_matrix(const Expr& e, bool counters_only, std::string_view func) {
  if (const VectorSelector* sel = range_selector(e)) return select_range(*sel, counters_only, func);
  const auto* sq = std::get_if<Subquery>(&strip_parens(e).node);
  if (sq == nullptr) {
    return Status::internal(
        fmt::format("{}(): expected a range vector, got {}", func, to_string(e)));
  }
  if (counters_only) {
    return Status::invalid_argument(fmt::format(
        "{}() takes a range selector of a _count or _sum view (such as {}(m_count[5m])), not a "
        "subquery: the windows of those views are increments; use sum_over_time() over a "
        "subquery instead",
        func, func));
  }
  return eval_subquery(*sq);
}

}  // namespace edgesketch::query::eval
