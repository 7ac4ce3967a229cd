// Evaluation of the PromQL subset: every expression is evaluated for all steps at once.
#include "edgesketch/query/query_engine.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <unordered_map>
#include <variant>

#include <fmt/format.h>

#include "edgesketch/query/promql_parser.h"
#include "metric_views.h"

namespace edgesketch::query {
namespace {

using sketch::WindowAggregate;

constexpr std::string_view kTooManySamples =
    "query processing would load too many samples into memory in query execution";

// A float-valued series over the query's steps.
struct FloatSeries {
  Labels labels;
  std::vector<double> v;
  std::vector<char> has;
};

// A sketch-valued series: its non-empty steps.
struct SketchSeries {
  Labels labels;
  std::vector<std::pair<std::uint32_t, WindowAggregate>> points;  // increasing step index
  // Empty, or per point the quantile the source computed for histogram_quantile (NaN: the
  // point's histogram is empty or missing); the points' aggregates then have no histogram.
  std::vector<double> quantiles;
};

struct Vector {
  bool sketch = false;  // which of the two holds the series (an empty vector may be either)
  std::vector<FloatSeries> floats;
  std::vector<SketchSeries> sketches;
  bool empty() const { return floats.empty() && sketches.empty(); }
};
struct Scalar {
  std::vector<double> v;
};
struct String {
  std::string s;
};
using Value = std::variant<Scalar, String, Vector>;

// State of one evaluation.
struct Ctx {
  std::string_view tenant;
  std::int64_t start_ms = 0;  // first point
  std::int64_t step_ms = 0;   // spacing of points (range queries)
  std::size_t n = 1;          // number of points
  bool instant = true;
  std::int64_t lookback_ms = 0;
  const QueryLimits* limits = nullptr;
  std::size_t max_topk = 1000;
  std::size_t series_used = 0;
  std::size_t points_used = 0;

  std::int64_t t(std::size_t i) const { return start_ms + static_cast<std::int64_t>(i) * step_ms; }

  Status charge_points(std::size_t points) {
    points_used += points;
    if (points_used > limits->max_points)
      return Status::resource_exhausted(std::string(kTooManySamples));
    return Status();
  }
  Status charge_series(std::size_t series) {
    series_used += series;
    if (series_used > limits->max_series) {
      return Status::resource_exhausted(fmt::format(
          "query would select more than {} series (the tenant's max series per query); narrow "
          "the selectors",
          limits->max_series));
    }
    return Status();
  }
};

FloatSeries new_float_series(Labels labels, std::size_t n) {
  FloatSeries s;
  s.labels = std::move(labels);
  s.v.assign(n, 0.0);
  s.has.assign(n, 0);
  return s;
}

Status sketch_output_error(const Vector& v) {
  const auto name = v.sketches.empty() ? std::string_view("?")
                                       : label_value(v.sketches.front().labels, kMetricNameLabel);
  return Status::invalid_argument(fmt::format(
      "series {} hold sketches, which cannot be returned as numbers: select {}_count, {}_sum, "
      "{}_min or {}_max, or use histogram_quantile(φ, …), distinct_count(…) or topk_items(k, …)",
      v.sketches.empty() ? std::string("?") : labels_to_string(v.sketches.front().labels), name,
      name, name, name));
}

class Evaluator {
 public:
  Evaluator(SeriesSource& source, Ctx& ctx) : source_(source), ctx_(ctx) {}

  Result<Value> eval(const Expr& e, const ScanFields& want) {
    return std::visit([&](const auto& node) { return eval_node(node, want); }, e.node);
  }

 private:
  Result<Value> eval_node(const NumberLiteral& n, const ScanFields&) {
    return Value(Scalar{std::vector<double>(ctx_.n, n.value)});
  }
  Result<Value> eval_node(const StringLiteral& s, const ScanFields&) {
    return Value(String{s.value});
  }
  Result<Value> eval_node(const Paren& p, const ScanFields& want) { return eval(*p.inner, want); }

  Result<Value> eval_node(const VectorSelector& sel, const ScanFields& want) {
    ES_ASSIGN_OR_RETURN(auto v, select(sel, want, nullptr));
    return std::move(*v);
  }

  // Whether `op` over series of `field` equals that field of the merged aggregate (so a scan
  // may merge the series of a group instead of returning them one by one).
  static bool mergeable(AggregateOp op, Field field) {
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

  // Evaluates a selector. With `agg`, evaluates `agg->op by|without (…) (sel)` by letting the
  // source merge the series of each group while it scans (memory and work per group, not per
  // series), or returns nullopt when that does not give the same answer.
  Result<std::optional<Value>> select(const VectorSelector& sel, const ScanFields& want,
                                      const Aggregate* agg) {
    // Bucket width and how many consecutive buckets make one point.
    std::int64_t bucket = ctx_.instant ? ctx_.lookback_ms : ctx_.step_ms;
    std::int64_t k = 1;
    if (sel.range_ms) {
      if (ctx_.instant) {
        bucket = *sel.range_ms;
      } else if (*sel.range_ms % ctx_.step_ms != 0) {
        return Status::invalid_argument(fmt::format(
            "the range [{}] of a selector must be a multiple of the query step ({}) in range "
            "queries",
            format_duration_ms(*sel.range_ms), format_duration_ms(ctx_.step_ms)));
      } else {
        k = *sel.range_ms / ctx_.step_ms;
      }
    }
    // Buckets at scan_start + j·bucket; the bucket at T merges the windows ending in
    // (T − bucket, T], so the scan reads windows ending in (scan_start − bucket, scan_end]: their
    // data lies in [scan_start − bucket, scan_end − 1], the range the metric names come from.
    const std::int64_t scan_start = ctx_.start_ms - (k - 1) * bucket;
    const std::int64_t scan_end = ctx_.t(ctx_.n - 1);
    ES_ASSIGN_OR_RETURN(auto views, resolve_views(source_, ctx_.tenant, sel.matchers,
                                                  scan_start - bucket, scan_end - 1));
    std::optional<ScanGrouping> grouping;
    if (agg != nullptr) {
      // A name like m_max has two candidate views (stored m_max, and m's max); keep those with
      // series. One view only: series of several metrics would need merging across scans.
      std::vector<MetricView> present;
      for (auto& view : views) {
        ES_ASSIGN_OR_RETURN(auto names,
                            source_.label_values(ctx_.tenant, kMetricNameLabel,
                                                 stored_matchers(sel.matchers, view.stored),
                                                 scan_start - bucket, scan_end - 1));
        if (!names.empty()) present.push_back(std::move(view));
      }
      views = std::move(present);
      if (views.size() > 1 || (views.size() == 1 && !mergeable(agg->op, views.front().field))) {
        return std::optional<Value>();
      }
      grouping = ScanGrouping{agg->without, agg->grouping};
    }
    Vector out;
    bool any_sketch = false, any_float = false;
    for (const auto& view : views) {
      ScanRequest req;
      req.matchers = stored_matchers(sel.matchers, view.stored);
      req.start_ms = scan_start;
      req.end_ms = scan_end;
      req.step_ms = bucket;
      if (view.field == Field::kSketch) {
        req.fields = want;
        // Buckets merged into points here must keep their histograms.
        if (k > 1) req.fields.quantile.reset();
      }
      req.max_series =
          ctx_.limits->max_series - std::min(ctx_.series_used, ctx_.limits->max_series);
      req.max_points =
          ctx_.limits->max_points - std::min(ctx_.points_used, ctx_.limits->max_points);
      req.group = grouping;
      ScanRequest::Stats scanned;
      req.stats = &scanned;
      auto rows = source_.scan(ctx_.tenant, req);
      if (!rows.ok()) {
        if (rows.status().code() == StatusCode::kResourceExhausted) {
          return Status::resource_exhausted(fmt::format(
              "{} (tenant limits: {} series, {} samples per query; source: {})", kTooManySamples,
              ctx_.limits->max_series, ctx_.limits->max_points, rows.status().message()));
        }
        return rows.status().with_context(fmt::format("reading {}", view.visible));
      }
      if (rows->empty()) continue;
      // Grouped scans merge the series' points inside the source: charge what it read.
      ES_RETURN_IF_ERROR(ctx_.charge_series(grouping ? scanned.series : rows->size()));
      if (grouping) ES_RETURN_IF_ERROR(ctx_.charge_points(scanned.points));
      for (auto& r : *rows) {
        if (!grouping) ES_RETURN_IF_ERROR(ctx_.charge_points(r.points.size()));
        if (!grouping) set_label(r.labels, kMetricNameLabel, view.visible);
        std::vector<double> quantiles;
        ES_ASSIGN_OR_RETURN(auto points,
                            to_step_points(std::move(r.points), scan_start, bucket, k,
                                           req.fields.quantile ? &quantiles : nullptr));
        if (view.field == Field::kSketch) {
          any_sketch = true;
          out.sketches.push_back(
              SketchSeries{std::move(r.labels), std::move(points), std::move(quantiles)});
        } else {
          any_float = true;
          ES_RETURN_IF_ERROR(ctx_.charge_points(ctx_.n));
          FloatSeries f = new_float_series(std::move(r.labels), ctx_.n);
          for (const auto& [i, agg] : points) {
            if (auto v = field_value(agg, view.field)) {
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
    return std::optional<Value>(std::move(out));
  }

  // Maps scanned buckets (at scan_start + j·bucket) to the query's step indexes, merging k
  // consecutive buckets per point when k > 1. With `quantiles` (k = 1 only), fills it with the
  // quantile the source computed for each point (NaN where it did not).
  Result<std::vector<std::pair<std::uint32_t, WindowAggregate>>> to_step_points(
      std::vector<StepPoint> points, std::int64_t scan_start, std::int64_t bucket, std::int64_t k,
      std::vector<double>* quantiles) {
    std::vector<std::pair<std::uint32_t, WindowAggregate>> out;
    const auto n = static_cast<std::int64_t>(ctx_.n);
    std::vector<std::pair<std::int64_t, StepPoint*>> buckets;
    for (auto& p : points) {
      const std::int64_t off = p.t_ms - scan_start;
      if (off < 0 || off % bucket != 0) continue;  // not on the grid: a source bug; ignore
      const std::int64_t j = off / bucket;
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

  // The selector an expression is, through parentheses; nullptr otherwise.
  static const VectorSelector* plain_selector(const Expr& e) {
    if (const auto* p = std::get_if<Paren>(&e.node)) return plain_selector(*p->inner);
    return std::get_if<VectorSelector>(&e.node);
  }

  Result<Value> eval_node(const Aggregate& a, const ScanFields& want) {
    // sum/min/max by|without over a selector: the source merges the groups while it scans.
    // (`by (__name__)` keeps the visible name, which the source does not know.)
    if (const VectorSelector* sel = plain_selector(*a.arg);
        sel != nullptr && (a.without || std::find(a.grouping.begin(), a.grouping.end(),
                                                  kMetricNameLabel) == a.grouping.end())) {
      ES_ASSIGN_OR_RETURN(auto grouped, select(*sel, want, &a));
      if (grouped) return std::move(*grouped);
    }
    ES_ASSIGN_OR_RETURN(Value arg_value, eval(*a.arg, without_quantile(want)));
    Vector& in = std::get<Vector>(arg_value);
    auto group_labels = [&](const Labels& l) {
      if (a.without) {
        std::vector<std::string> drop = a.grouping;
        drop.emplace_back(kMetricNameLabel);
        return drop_labels(l, drop);
      }
      return keep_labels(l, a.grouping);
    };
    std::unordered_map<std::string, std::size_t> index;
    std::vector<Labels> groups;
    std::vector<std::size_t> group_of;
    auto assign = [&](const Labels& l) {
      Labels g = group_labels(l);
      auto [it, fresh] = index.try_emplace(labels_key(g), groups.size());
      if (fresh) groups.push_back(std::move(g));
      group_of.push_back(it->second);
    };
    Vector out;
    if (in.sketch) {
      for (const auto& s : in.sketches) assign(s.labels);
      if (a.op == AggregateOp::kSum) {
        out.sketch = true;
        std::vector<std::vector<std::pair<std::uint32_t, const WindowAggregate*>>> parts(
            groups.size());
        for (std::size_t s = 0; s < in.sketches.size(); ++s) {
          for (const auto& [i, agg] : in.sketches[s].points)
            parts[group_of[s]].emplace_back(i, &agg);
        }
        for (std::size_t g = 0; g < groups.size(); ++g) {
          auto& p = parts[g];
          std::stable_sort(p.begin(), p.end(),
                           [](const auto& x, const auto& y) { return x.first < y.first; });
          SketchSeries merged{groups[g], {}};
          for (const auto& [i, agg] : p) {
            if (!merged.points.empty() && merged.points.back().first == i) {
              ES_RETURN_IF_ERROR(merged.points.back().second.merge(*agg));
            } else {
              merged.points.emplace_back(i, *agg);
            }
          }
          out.sketches.push_back(std::move(merged));
        }
        return Value(std::move(out));
      }
      if (a.op != AggregateOp::kCount) {
        return Status::invalid_argument(fmt::format(
            "{} over sketch-valued series is not defined: use sum (merges the sketches) or count, "
            "or aggregate the float views such as {}_max",
            aggregate_op_name(a.op), label_value(in.sketches.front().labels, kMetricNameLabel)));
      }
      ES_RETURN_IF_ERROR(ctx_.charge_points(groups.size() * ctx_.n));
      for (auto& g : groups) out.floats.push_back(new_float_series(g, ctx_.n));
      for (std::size_t s = 0; s < in.sketches.size(); ++s) {
        FloatSeries& f = out.floats[group_of[s]];
        for (const auto& p : in.sketches[s].points) {
          f.v[p.first] += 1;
          f.has[p.first] = 1;
        }
      }
      return Value(std::move(out));
    }
    for (const auto& s : in.floats) assign(s.labels);
    ES_RETURN_IF_ERROR(ctx_.charge_points(groups.size() * ctx_.n));
    for (auto& g : groups) out.floats.push_back(new_float_series(g, ctx_.n));
    std::vector<std::vector<double>> counts(groups.size(), std::vector<double>(ctx_.n, 0.0));
    for (std::size_t s = 0; s < in.floats.size(); ++s) {
      const FloatSeries& src = in.floats[s];
      FloatSeries& dst = out.floats[group_of[s]];
      auto& cnt = counts[group_of[s]];
      for (std::size_t i = 0; i < ctx_.n; ++i) {
        if (!src.has[i]) continue;
        const double v = src.v[i];
        if (!dst.has[i]) {
          dst.has[i] = 1;
          dst.v[i] = a.op == AggregateOp::kCount ? 1.0 : v;
          cnt[i] = 1;
          continue;
        }
        cnt[i] += 1;
        switch (a.op) {
          case AggregateOp::kSum:
          case AggregateOp::kAvg:
            dst.v[i] += v;
            break;
          case AggregateOp::kMin:
            if (v < dst.v[i] || std::isnan(dst.v[i])) dst.v[i] = v;
            break;
          case AggregateOp::kMax:
            if (v > dst.v[i] || std::isnan(dst.v[i])) dst.v[i] = v;
            break;
          case AggregateOp::kCount:
            dst.v[i] += 1;
            break;
        }
      }
    }
    if (a.op == AggregateOp::kAvg) {
      for (std::size_t g = 0; g < groups.size(); ++g) {
        for (std::size_t i = 0; i < ctx_.n; ++i) {
          if (out.floats[g].has[i]) out.floats[g].v[i] /= counts[g][i];
        }
      }
    }
    return Value(std::move(out));
  }

  static double apply(BinaryOp op, double a, double b) {
    switch (op) {
      case BinaryOp::kAdd:
        return a + b;
      case BinaryOp::kSub:
        return a - b;
      case BinaryOp::kMul:
        return a * b;
      case BinaryOp::kDiv:
        return a / b;
      case BinaryOp::kMod:
        return std::fmod(a, b);
      case BinaryOp::kPow:
        return std::pow(a, b);
    }
    return std::numeric_limits<double>::quiet_NaN();
  }

  static Status no_sketch_arithmetic(const Vector& v) {
    if (!v.sketch || v.empty()) return Status();
    return Status::invalid_argument(fmt::format(
        "arithmetic on sketch-valued series ({}) is not defined; use the float views such as "
        "{}_sum / {}_count",
        labels_to_string(v.sketches.front().labels),
        label_value(v.sketches.front().labels, kMetricNameLabel),
        label_value(v.sketches.front().labels, kMetricNameLabel)));
  }

  Result<Value> eval_node(const Binary& b, const ScanFields&) {
    ES_ASSIGN_OR_RETURN(Value lhs, eval(*b.lhs, ScanFields{}));
    ES_ASSIGN_OR_RETURN(Value rhs, eval(*b.rhs, ScanFields{}));
    auto* ls = std::get_if<Scalar>(&lhs);
    auto* rs = std::get_if<Scalar>(&rhs);
    if (ls && rs) {
      for (std::size_t i = 0; i < ctx_.n; ++i) ls->v[i] = apply(b.op, ls->v[i], rs->v[i]);
      return lhs;
    }
    if (ls || rs) {
      Vector& vec = std::get<Vector>(ls ? rhs : lhs);
      ES_RETURN_IF_ERROR(no_sketch_arithmetic(vec));
      const Scalar& s = ls ? *ls : *rs;
      for (auto& f : vec.floats) {
        f.labels = drop_metric_name(f.labels);
        for (std::size_t i = 0; i < ctx_.n; ++i) {
          if (f.has[i]) f.v[i] = ls ? apply(b.op, s.v[i], f.v[i]) : apply(b.op, f.v[i], s.v[i]);
        }
      }
      return Value(std::move(vec));
    }
    Vector& lv = std::get<Vector>(lhs);
    Vector& rv = std::get<Vector>(rhs);
    ES_RETURN_IF_ERROR(no_sketch_arithmetic(lv));
    ES_RETURN_IF_ERROR(no_sketch_arithmetic(rv));
    auto signature = [&](const Labels& l) {
      if (b.on) return keep_labels(l, b.matching_labels);
      return drop_labels(drop_metric_name(l), b.matching_labels);
    };
    struct Match {
      Labels labels;
      std::vector<std::size_t> lhs, rhs;
    };
    std::map<std::string, Match> matches;
    for (std::size_t i = 0; i < lv.floats.size(); ++i) {
      Labels sig = signature(lv.floats[i].labels);
      auto& m = matches[labels_key(sig)];
      m.labels = std::move(sig);
      m.lhs.push_back(i);
    }
    for (std::size_t i = 0; i < rv.floats.size(); ++i) {
      Labels sig = signature(rv.floats[i].labels);
      auto it = matches.find(labels_key(sig));
      if (it != matches.end()) it->second.rhs.push_back(i);
    }
    Vector out;
    for (auto& [key, m] : matches) {
      if (m.rhs.empty()) continue;
      ES_RETURN_IF_ERROR(ctx_.charge_points(ctx_.n));
      FloatSeries f = new_float_series(m.labels, ctx_.n);
      bool any = false;
      for (std::size_t i = 0; i < ctx_.n; ++i) {
        const std::size_t* l = nullptr;
        const std::size_t* r = nullptr;
        for (const auto& li : m.lhs) {
          if (!lv.floats[li].has[i]) continue;
          if (l) {
            return Status::invalid_argument(
                fmt::format("multiple matches for labels {}: many-to-one matching must be explicit "
                            "(group_left/group_right), which is not supported",
                            labels_to_string(m.labels)));
          }
          l = &li;
        }
        for (const auto& ri : m.rhs) {
          if (!rv.floats[ri].has[i]) continue;
          if (r) {
            return Status::invalid_argument(fmt::format(
                "found duplicate series for the match group {} on the right hand-side of the "
                "operation; many-to-many matching not allowed: matching labels must be unique on "
                "one side",
                labels_to_string(m.labels)));
          }
          r = &ri;
        }
        if (l && r) {
          f.v[i] = apply(b.op, lv.floats[*l].v[i], rv.floats[*r].v[i]);
          f.has[i] = 1;
          any = true;
        }
      }
      if (any) out.floats.push_back(std::move(f));
    }
    return Value(std::move(out));
  }

  // The fields of `want` for an operand whose sketches are combined before any quantile.
  static ScanFields without_quantile(ScanFields want) {
    want.quantile.reset();
    return want;
  }

  Result<Value> eval_node(const Unary& u, const ScanFields& want) {
    ES_ASSIGN_OR_RETURN(Value v, eval(*u.arg, without_quantile(want)));
    if (!u.negate) return v;
    if (auto* s = std::get_if<Scalar>(&v)) {
      for (auto& x : s->v) x = -x;
      return v;
    }
    Vector& vec = std::get<Vector>(v);
    ES_RETURN_IF_ERROR(no_sketch_arithmetic(vec));
    for (auto& f : vec.floats) {
      f.labels = drop_metric_name(f.labels);
      for (auto& x : f.v) x = -x;
    }
    return v;
  }

  Result<Value> eval_node(const Call& c, const ScanFields&) {
    ScanFields want;
    switch (c.func) {
      case Function::kHistogramQuantile:
        want.histogram = true;
        break;
      case Function::kDistinctCount:
        want.distinct = true;
        break;
      case Function::kTopkItems:
        want.topk = true;
        break;
    }
    const Expr& vec_arg = *c.args.back();
    std::optional<Scalar> param;
    if (c.args.size() == 2) {
      ES_ASSIGN_OR_RETURN(Value p, eval(*c.args[0], ScanFields{}));
      param = std::move(std::get<Scalar>(p));
    }
    if (c.func == Function::kHistogramQuantile && !param->v.empty()) {
      // One φ in [0, 1] for every step: the source may compute the quantiles while it scans
      // and never build the histograms.
      const double phi = param->v.front();
      if (phi >= 0 && phi <= 1 &&
          std::all_of(param->v.begin(), param->v.end(), [phi](double x) { return x == phi; })) {
        want.quantile = phi;
      }
    }
    ES_ASSIGN_OR_RETURN(Value v, eval(vec_arg, want));
    Vector& in = std::get<Vector>(v);
    if (!in.sketch && !in.empty()) {
      return Status::invalid_argument(fmt::format(
          "{} needs sketch-valued series (a stored metric m, or sum by (...) (m)), got float "
          "series such as {}",
          function_name(c.func), labels_to_string(in.floats.front().labels)));
    }
    Vector out;
    if (c.func == Function::kTopkItems) return topk_items(in, *param);
    ES_RETURN_IF_ERROR(ctx_.charge_points(in.sketches.size() * ctx_.n));
    for (const auto& s : in.sketches) {
      FloatSeries f = new_float_series(drop_metric_name(s.labels), ctx_.n);
      bool any = false;
      for (std::size_t j = 0; j < s.points.size(); ++j) {
        const auto& [i, agg] = s.points[j];
        std::optional<double> value;
        if (c.func == Function::kHistogramQuantile && j < s.quantiles.size() &&
            !std::isnan(s.quantiles[j])) {
          value = s.quantiles[j];  // computed by the source for this φ
        } else if (c.func == Function::kHistogramQuantile) {
          const auto* h = agg.histogram();
          if (h == nullptr || h->count() == 0) continue;
          const double phi = param->v[i];
          if (std::isnan(phi)) {
            value = phi;
          } else if (phi < 0) {
            value = -std::numeric_limits<double>::infinity();
          } else if (phi > 1) {
            value = std::numeric_limits<double>::infinity();
          } else {
            value = h->quantile(phi);
          }
        } else {
          const auto* d = agg.distinct();
          if (d == nullptr) continue;
          value = d->estimate();
        }
        f.v[i] = *value;
        f.has[i] = 1;
        any = true;
      }
      if (any) out.floats.push_back(std::move(f));
    }
    return Value(std::move(out));
  }

  Result<Value> topk_items(const Vector& in, const Scalar& k_values) {
    Vector out;
    std::unordered_map<std::string, std::size_t> index;
    for (const auto& s : in.sketches) {
      const Labels base = drop_metric_name(s.labels);
      for (const auto& [i, agg] : s.points) {
        const double kd = k_values.v[i];
        if (!(kd >= 1) || kd > static_cast<double>(ctx_.max_topk) || kd != std::floor(kd)) {
          return Status::invalid_argument(fmt::format(
              "topk_items: k must be an integer from 1 to {}, got {}", ctx_.max_topk, kd));
        }
        const auto* t = agg.topk();
        if (t == nullptr) continue;
        for (const auto& item : t->top(static_cast<std::size_t>(kd))) {
          Labels l = base;
          set_label(l, "item", item.key);
          auto [it, fresh] = index.try_emplace(labels_key(l), out.floats.size());
          if (fresh) {
            ES_RETURN_IF_ERROR(ctx_.charge_points(ctx_.n));
            out.floats.push_back(new_float_series(std::move(l), ctx_.n));
          }
          FloatSeries& f = out.floats[it->second];
          // Two series of the input may share labels after dropping __name__: add up.
          f.v[i] =
              f.has[i] ? f.v[i] + static_cast<double>(item.count) : static_cast<double>(item.count);
          f.has[i] = 1;
        }
      }
    }
    return Value(std::move(out));
  }

  SeriesSource& source_;
  Ctx& ctx_;
};

void sort_series(std::vector<ResultSeries>& s) {
  std::sort(s.begin(), s.end(),
            [](const ResultSeries& a, const ResultSeries& b) { return a.labels < b.labels; });
}

Result<QueryResult> finish(Value v, const Ctx& ctx) {
  QueryResult r;
  r.t_ms = ctx.start_ms;
  if (auto* s = std::get_if<String>(&v)) {
    if (!ctx.instant) {
      return Status::invalid_argument(
          "invalid expression type \"string\" for range query, must be Scalar or instant Vector");
    }
    r.type = ResultType::kString;
    r.string_value = std::move(s->s);
    return r;
  }
  if (auto* s = std::get_if<Scalar>(&v)) {
    r.type = ctx.instant ? ResultType::kScalar : ResultType::kMatrix;
    ResultSeries out;
    for (std::size_t i = 0; i < ctx.n; ++i) out.samples.push_back(Sample{ctx.t(i), s->v[i]});
    r.series.push_back(std::move(out));
    return r;
  }
  Vector& vec = std::get<Vector>(v);
  if (vec.sketch && !vec.empty()) return sketch_output_error(vec);
  r.type = ctx.instant ? ResultType::kVector : ResultType::kMatrix;
  for (auto& f : vec.floats) {
    ResultSeries out;
    out.labels = std::move(f.labels);
    for (std::size_t i = 0; i < ctx.n; ++i) {
      if (f.has[i]) out.samples.push_back(Sample{ctx.t(i), f.v[i]});
    }
    if (!out.samples.empty()) r.series.push_back(std::move(out));
  }
  sort_series(r.series);
  return r;
}

}  // namespace

std::string_view result_type_name(ResultType t) {
  switch (t) {
    case ResultType::kScalar:
      return "scalar";
    case ResultType::kVector:
      return "vector";
    case ResultType::kMatrix:
      return "matrix";
    case ResultType::kString:
      return "string";
  }
  return "?";
}

QueryEngine::QueryEngine(SeriesSource& source, EngineOptions options)
    : source_(source), options_(options) {}

Result<QueryResult> QueryEngine::instant(std::string_view tenant, const Expr& expr,
                                         std::int64_t t_ms, const QueryLimits& limits) const {
  Ctx ctx;
  ctx.tenant = tenant;
  ctx.start_ms = t_ms;
  ctx.step_ms = 0;
  ctx.n = 1;
  ctx.instant = true;
  ctx.lookback_ms = options_.lookback_ms;
  ctx.limits = &limits;
  ctx.max_topk = options_.max_topk_items;
  Evaluator ev(source_, ctx);
  ES_ASSIGN_OR_RETURN(Value v, ev.eval(expr, ScanFields{}));
  return finish(std::move(v), ctx);
}

Result<QueryResult> QueryEngine::range(std::string_view tenant, const Expr& expr,
                                       std::int64_t start_ms, std::int64_t end_ms,
                                       std::int64_t step_ms, const QueryLimits& limits) const {
  if (step_ms <= 0) return Status::invalid_argument("range query: step must be positive");
  if (end_ms < start_ms) return Status::invalid_argument("range query: end is before start");
  Ctx ctx;
  ctx.tenant = tenant;
  ctx.start_ms = start_ms;
  ctx.step_ms = step_ms;
  const std::int64_t n = (end_ms - start_ms) / step_ms + 1;
  if (static_cast<std::uint64_t>(n) > limits.max_points) {
    return Status::resource_exhausted(std::string(kTooManySamples));
  }
  ctx.n = static_cast<std::size_t>(n);
  ctx.instant = false;
  ctx.lookback_ms = options_.lookback_ms;
  ctx.limits = &limits;
  ctx.max_topk = options_.max_topk_items;
  Evaluator ev(source_, ctx);
  ES_ASSIGN_OR_RETURN(Value v, ev.eval(expr, ScanFields{}));
  return finish(std::move(v), ctx);
}

Result<std::vector<Labels>> QueryEngine::series(std::string_view tenant,
                                                const std::vector<VectorSelector>& selectors,
                                                std::int64_t start_ms, std::int64_t end_ms,
                                                std::size_t limit) const {
  std::map<std::string, Labels> all;
  for (const auto& sel : selectors) {
    ES_ASSIGN_OR_RETURN(auto views, resolve_views(source_, tenant, sel.matchers, start_ms, end_ms));
    for (const auto& view : views) {
      const auto matchers = stored_matchers(sel.matchers, view.stored);
      ES_ASSIGN_OR_RETURN(auto found, source_.series(tenant, matchers, start_ms, end_ms, limit));
      for (auto& l : found) {
        set_label(l, kMetricNameLabel, view.visible);
        all.try_emplace(labels_key(l), std::move(l));
        if (all.size() > limit) {
          return Status::resource_exhausted(
              fmt::format("more than {} series match; narrow the match[] selectors", limit));
        }
      }
    }
  }
  std::vector<Labels> out;
  out.reserve(all.size());
  for (auto& [k, l] : all) out.push_back(std::move(l));
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<std::string>> QueryEngine::label_names(
    std::string_view tenant, const std::vector<VectorSelector>& selectors, std::int64_t start_ms,
    std::int64_t end_ms) const {
  if (selectors.empty()) return source_.label_names(tenant, {}, start_ms, end_ms);
  std::vector<std::string> names;
  for (const auto& sel : selectors) {
    ES_ASSIGN_OR_RETURN(auto views, resolve_views(source_, tenant, sel.matchers, start_ms, end_ms));
    for (const auto& view : views) {
      ES_ASSIGN_OR_RETURN(auto found,
                          source_.label_names(tenant, stored_matchers(sel.matchers, view.stored),
                                              start_ms, end_ms));
      names.insert(names.end(), found.begin(), found.end());
    }
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

Result<std::vector<std::string>> QueryEngine::label_values(
    std::string_view tenant, std::string_view name, const std::vector<VectorSelector>& selectors,
    std::int64_t start_ms, std::int64_t end_ms) const {
  std::vector<std::string> values;
  if (selectors.empty()) {
    ES_ASSIGN_OR_RETURN(auto found, source_.label_values(tenant, name, {}, start_ms, end_ms));
    if (name != kMetricNameLabel) return found;
    for (const auto& stored : found) {
      for (auto& v : visible_names(stored)) values.push_back(std::move(v));
    }
  } else {
    for (const auto& sel : selectors) {
      ES_ASSIGN_OR_RETURN(auto views,
                          resolve_views(source_, tenant, sel.matchers, start_ms, end_ms));
      for (const auto& view : views) {
        const auto matchers = stored_matchers(sel.matchers, view.stored);
        if (name == kMetricNameLabel) {
          ES_ASSIGN_OR_RETURN(auto found,
                              source_.label_values(tenant, name, matchers, start_ms, end_ms));
          if (!found.empty()) values.push_back(view.visible);
        } else {
          ES_ASSIGN_OR_RETURN(auto found,
                              source_.label_values(tenant, name, matchers, start_ms, end_ms));
          values.insert(values.end(), found.begin(), found.end());
        }
      }
    }
  }
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return values;
}

Result<std::vector<SketchRow>> QueryEngine::sketch_table(std::string_view tenant,
                                                         const VectorSelector& selector,
                                                         std::int64_t start_ms, std::int64_t end_ms,
                                                         const std::vector<std::string>& by,
                                                         std::size_t top_k,
                                                         const QueryLimits& limits) const {
  if (end_ms <= start_ms) return Status::invalid_argument("sketch: end must be after start");
  if (top_k > options_.max_topk_items) {
    return Status::invalid_argument(
        fmt::format("sketch: k must be at most {}", options_.max_topk_items));
  }
  // One bucket at end_ms of width end − start: the windows ending in (start, end], whose data
  // lies in [start, end − 1].
  ES_ASSIGN_OR_RETURN(auto views,
                      resolve_views(source_, tenant, selector.matchers, start_ms, end_ms - 1));
  std::vector<std::string> stored;
  for (const auto& v : views) stored.push_back(v.stored);
  std::sort(stored.begin(), stored.end());
  stored.erase(std::unique(stored.begin(), stored.end()), stored.end());

  std::map<std::string, std::pair<Labels, std::optional<WindowAggregate>>> groups;
  std::size_t series = 0, points = 0;
  for (const auto& name : stored) {
    ScanRequest req;
    req.matchers = stored_matchers(selector.matchers, name);
    req.start_ms = end_ms;
    req.end_ms = end_ms;
    req.step_ms = end_ms - start_ms;
    req.fields = ScanFields{true, true, true};
    req.max_series = limits.max_series - std::min(series, limits.max_series);
    req.max_points = limits.max_points - std::min(points, limits.max_points);
    auto rows = source_.scan(tenant, req);
    if (!rows.ok()) {
      if (rows.status().code() == StatusCode::kResourceExhausted) {
        return Status::resource_exhausted(
            fmt::format("{} ({})", kTooManySamples, rows.status().message()));
      }
      return rows.status();
    }
    series += rows->size();
    if (series > limits.max_series) {
      return Status::resource_exhausted(
          fmt::format("query would select more than {} series", limits.max_series));
    }
    for (auto& r : *rows) {
      Labels g = keep_labels(r.labels, by);
      auto& slot = groups[labels_key(g)];
      slot.first = std::move(g);
      for (auto& p : r.points) {
        ++points;
        if (!slot.second) {
          slot.second = std::move(p.agg);
        } else {
          ES_RETURN_IF_ERROR(slot.second->merge(p.agg));
        }
      }
    }
  }
  std::vector<SketchRow> out;
  for (auto& [key, g] : groups) {
    if (!g.second) continue;
    const WindowAggregate& agg = *g.second;
    SketchRow row;
    row.group = g.first;
    row.count = agg.count();
    row.sum = agg.sum();
    if (!std::isinf(agg.min())) row.min = agg.min();
    if (!std::isinf(agg.max())) row.max = agg.max();
    if (const auto* h = agg.histogram(); h && h->count() > 0) {
      row.p50 = h->quantile(0.5);
      row.p90 = h->quantile(0.9);
      row.p99 = h->quantile(0.99);
      row.p999 = h->quantile(0.999);
    }
    if (const auto* d = agg.distinct()) row.distinct = d->estimate();
    if (const auto* t = agg.topk()) row.top = t->top(top_k);
    out.push_back(std::move(row));
  }
  std::sort(out.begin(), out.end(),
            [](const SketchRow& a, const SketchRow& b) { return a.group < b.group; });
  return out;
}

}  // namespace edgesketch::query
