// Function calls: element-wise math, time(), vector(), scalar(), timestamp(), sort(), absent(),
// label rewrites, the range functions and the functions of sketch-valued series.
#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include <fmt/format.h>

#include "evaluator.h"
#include "histogram_fraction.h"
#include "label_rewrite.h"
#include "range_functions.h"

namespace edgesketch::query::eval {
namespace {

using sketch::WindowAggregate;

// Go's math.Max and math.Min (which Prometheus' clamp functions use): +Inf (-Inf) wins over NaN,
// NaN over numbers, +0 over -0 for max (-0 for min).
double go_max(double x, double y) {
  if (std::isinf(x) && x > 0) return x;
  if (std::isinf(y) && y > 0) return y;
  if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<double>::quiet_NaN();
  if (x == 0 && x == y) return std::signbit(x) ? y : x;
  return x > y ? x : y;
}
double go_min(double x, double y) {
  if (std::isinf(x) && x < 0) return x;
  if (std::isinf(y) && y < 0) return y;
  if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<double>::quiet_NaN();
  if (x == 0 && x == y) return std::signbit(x) ? x : y;
  return x < y ? x : y;
}

// The labels absent() and absent_over_time() give their 1: the equality matchers of a selector
// argument (a name matched twice, or also otherwise, is left out), none for other arguments.
Labels absent_labels(const Expr& arg) {
  const auto* sel = std::get_if<VectorSelector>(&strip_parens(arg).node);
  if (sel == nullptr) return {};
  Labels out;
  std::vector<std::string> seen;
  for (const auto& m : sel->matchers) {
    if (m.name() == kMetricNameLabel) continue;
    const bool first = std::find(seen.begin(), seen.end(), m.name()) == seen.end();
    if (m.op() == MatchOp::kEqual && first) {
      set_label(out, m.name(), m.value());
      seen.push_back(m.name());
    } else {
      set_label(out, m.name(), "");
    }
  }
  return out;
}

const std::string& string_arg(const Expr& e) {
  return std::get<StringLiteral>(strip_parens(e).node).value;
}

std::optional<RangeFunction> range_function(Function f) {
  switch (f) {
    case Function::kAvgOverTime:
      return RangeFunction::kAvg;
    case Function::kCountOverTime:
      return RangeFunction::kCount;
    case Function::kLastOverTime:
      return RangeFunction::kLast;
    case Function::kMaxOverTime:
      return RangeFunction::kMax;
    case Function::kMinOverTime:
      return RangeFunction::kMin;
    case Function::kSumOverTime:
      return RangeFunction::kSum;
    case Function::kQuantileOverTime:
      return RangeFunction::kQuantile;
    case Function::kStddevOverTime:
      return RangeFunction::kStddev;
    case Function::kStdvarOverTime:
      return RangeFunction::kStdvar;
    case Function::kPresentOverTime:
      return RangeFunction::kPresent;
    case Function::kIncrease:
      return RangeFunction::kIncrease;
    case Function::kRate:
      return RangeFunction::kRate;
    default:
      return std::nullopt;
  }
}

// Sorts an instant vector by value as Prometheus' sort() (ascending) or sort_desc(): NaN last;
// up to 12 elements Go's sort is an insertion sort (stable), beyond it a stable sort stands in.
void sort_by_value(std::vector<FloatSeries>& floats, bool descending) {
  if (floats.size() <= 12) {
    // Go's sort.Reverse over Prometheus' heap orders: b sorts before a when b is NaN.
    auto go_less = [descending](double a, double b) {
      return std::isnan(b) || (descending ? b < a : b > a);
    };
    for (std::size_t i = 1; i < floats.size(); ++i) {
      for (std::size_t j = i; j > 0 && go_less(floats[j].v[0], floats[j - 1].v[0]); --j) {
        std::swap(floats[j], floats[j - 1]);
      }
    }
    return;
  }
  std::stable_sort(floats.begin(), floats.end(),
                   [descending](const FloatSeries& x, const FloatSeries& y) {
                     const double a = x.v[0], b = y.v[0];
                     if (std::isnan(a)) return false;
                     return std::isnan(b) || (descending ? a > b : a < b);
                   });
}

}  // namespace

Result<Value> Evaluator::eval_node(const Call& c, const Expr&, const ScanFields& want) {
  const std::size_t n = ctx_.n;
  switch (c.func) {
    case Function::kHistogramQuantile:
    case Function::kHistogramCount:
    case Function::kHistogramSum:
    case Function::kHistogramFraction:
    case Function::kDistinctCount:
    case Function::kTopkItems:
      return call_sketch_function(c);
    case Function::kLabelReplace:
    case Function::kLabelJoin:
      return call_label_function(c, want);
    case Function::kAbsentOverTime:
      return call_range_function(c);
    case Function::kTime: {
      Scalar s;
      s.v.resize(n);
      for (std::size_t i = 0; i < n; ++i) s.v[i] = static_cast<double>(ctx_.t(i)) / 1000;
      return Value(std::move(s));
    }
    case Function::kVector: {
      ES_ASSIGN_OR_RETURN(Scalar s, eval_scalar(*c.args[0]));
      ES_RETURN_IF_ERROR(ctx_.budget->charge_points(n));
      Vector out;
      FloatSeries f = new_float_series({}, n);
      f.v = std::move(s.v);
      f.has.assign(n, 1);
      out.floats.push_back(std::move(f));
      return Value(std::move(out));
    }
    case Function::kScalar: {
      ES_ASSIGN_OR_RETURN(Vector v, eval_vector(*c.args[0], ScanFields{}));
      ES_RETURN_IF_ERROR(require_floats(v, "scalar()"));
      Scalar s;
      s.v.assign(n, std::numeric_limits<double>::quiet_NaN());
      for (std::size_t i = 0; i < n; ++i) {
        const FloatSeries* only = nullptr;
        std::size_t present = 0;
        for (const auto& f : v.floats) {
          if (f.has[i] && ++present == 1) only = &f;
        }
        if (present == 1) s.v[i] = only->v[i];
      }
      return Value(std::move(s));
    }
    case Function::kAbsent: {
      ES_ASSIGN_OR_RETURN(Vector v, eval_vector(*c.args[0], ScanFields{}));
      FloatSeries f = new_float_series(absent_labels(*c.args[0]), n);
      f.v.assign(n, 1);
      f.has.assign(n, 1);
      for (std::size_t s = 0; s < v.size(); ++s) {
        const auto p = presence(v, s, n);
        for (std::size_t i = 0; i < n; ++i) f.has[i] = f.has[i] && !p[i];
      }
      Vector out;
      out.floats.push_back(std::move(f));
      return Value(std::move(out));
    }
    case Function::kTimestamp: {
      // A selector's points stand for the time they are evaluated at (less its offset, or its @
      // time): that is their timestamp; other expressions' points have the step's time.
      const Expr& arg = *c.args[0];
      ES_ASSIGN_OR_RETURN(Vector v, eval_vector(arg, ScanFields{}));
      std::vector<std::int64_t> times(n);
      for (std::size_t i = 0; i < n; ++i) times[i] = ctx_.t(i);
      if (const auto* sel = std::get_if<VectorSelector>(&strip_parens(arg).node)) {
        ES_ASSIGN_OR_RETURN(times, range_ends(sel->offset_ms, sel->at));
      }
      Vector out;
      out.ordered = v.ordered;
      for (std::size_t s = 0; s < v.size(); ++s) {
        const auto p = presence(v, s, n);
        ES_RETURN_IF_ERROR(ctx_.budget->charge_points(n));
        FloatSeries f = new_float_series(drop_metric_name(v.labels(s)), n);
        for (std::size_t i = 0; i < n; ++i) {
          if (!p[i]) continue;
          f.has[i] = 1;
          f.v[i] = static_cast<double>(times[i]) / 1000;
        }
        out.floats.push_back(std::move(f));
      }
      ES_RETURN_IF_ERROR(merge_equal_labels(out));
      return Value(std::move(out));
    }
    case Function::kSort:
    case Function::kSortDesc: {
      ES_ASSIGN_OR_RETURN(Vector v, eval_vector(*c.args[0], ScanFields{}));
      ES_RETURN_IF_ERROR(require_floats(v, std::string(function_name(c.func)) + "()"));
      // Only an instant query's result has an order (a range query's is sorted by labels).
      if (n == 1) {
        std::erase_if(v.floats, [](const FloatSeries& f) { return !f.has[0]; });
        sort_by_value(v.floats, c.func == Function::kSortDesc);
        v.ordered = true;
      }
      return Value(std::move(v));
    }
    default:
      break;
  }
  if (range_function(c.func)) return call_range_function(c);

  // Element-wise functions of a float vector; they drop the metric name.
  ES_ASSIGN_OR_RETURN(Vector v, eval_vector(*c.args[0], ScanFields{}));
  ES_RETURN_IF_ERROR(require_floats(v, std::string(function_name(c.func)) + "()"));
  std::vector<Scalar> params;
  for (std::size_t a = 1; a < c.args.size(); ++a) {
    ES_ASSIGN_OR_RETURN(Scalar s, eval_scalar(*c.args[a]));
    params.push_back(std::move(s));
  }
  auto param = [&](std::size_t a, std::size_t i, double fallback) {
    return a < params.size() ? params[a].v[i] : fallback;
  };
  for (auto& f : v.floats) {
    f.labels = drop_metric_name(f.labels);
    for (std::size_t i = 0; i < n; ++i) {
      if (!f.has[i]) continue;
      double& x = f.v[i];
      switch (c.func) {
        case Function::kAbs:
          x = std::fabs(x);
          break;
        case Function::kCeil:
          x = std::ceil(x);
          break;
        case Function::kFloor:
          x = std::floor(x);
          break;
        case Function::kExp:
          x = std::exp(x);
          break;
        case Function::kSqrt:
          x = std::sqrt(x);
          break;
        case Function::kLn:
          x = std::log(x);
          break;
        case Function::kLog2:
          x = std::log2(x);
          break;
        case Function::kLog10:
          x = std::log10(x);
          break;
        case Function::kSgn:
          x = x < 0 ? -1 : (x > 0 ? 1 : x);
          break;
        case Function::kRound: {
          // Ties round up; the inverse suffers fewer floating-point artefacts (as Prometheus).
          const double inverse = 1.0 / param(0, i, 1.0);
          x = std::floor(x * inverse + 0.5) / inverse;
          break;
        }
        case Function::kClamp: {
          const double lo = param(0, i, 0), hi = param(1, i, 0);
          if (hi < lo) {
            f.has[i] = 0;  // no result at all at this step
          } else {
            x = go_max(lo, go_min(hi, x));
          }
          break;
        }
        case Function::kClampMax:
          x = go_min(param(0, i, 0), x);
          break;
        case Function::kClampMin:
          x = go_max(param(0, i, 0), x);
          break;
        default:
          return Status::internal(
              fmt::format("function {} has no implementation", function_name(c.func)));
      }
    }
  }
  ES_RETURN_IF_ERROR(merge_equal_labels(v));
  return Value(std::move(v));
}

Result<Value> Evaluator::call_range_function(const Call& c) {
  const std::size_t n = ctx_.n;
  const bool counters = c.func == Function::kRate || c.func == Function::kIncrease;
  const Expr& arg = *c.args.back();
  std::optional<Scalar> param;
  if (c.args.size() == 2) {
    ES_ASSIGN_OR_RETURN(Scalar s, eval_scalar(*c.args[0]));
    param = std::move(s);
  }
  ES_ASSIGN_OR_RETURN(Matrix m, eval_matrix(arg, counters, function_name(c.func)));
  // The samples of step i: those in (ends[i] − range, ends[i]], found by two pointers.
  auto windows = [&](const RangeSeries& s, auto&& visit) {
    std::size_t lo = 0, hi = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const std::int64_t end = m.ends[i];
      while (hi < s.t.size() && s.t[hi] <= end) ++hi;
      while (lo < hi && s.t[lo] <= end - m.range_ms) ++lo;
      if (lo < hi) visit(i, lo, hi);
    }
  };
  Vector out;
  if (c.func == Function::kAbsentOverTime) {
    FloatSeries f = new_float_series(absent_labels(arg), n);
    f.v.assign(n, 1);
    f.has.assign(n, 1);
    for (const auto& s : m.series) {
      windows(s, [&](std::size_t i, std::size_t, std::size_t) { f.has[i] = 0; });
    }
    out.floats.push_back(std::move(f));
    return Value(std::move(out));
  }
  const RangeFunction fn = *range_function(c.func);
  for (const auto& s : m.series) {
    ES_RETURN_IF_ERROR(ctx_.budget->charge_points(n));
    // last_over_time acts like an offset and keeps the metric name; the others drop it.
    FloatSeries f = new_float_series(
        c.func == Function::kLastOverTime ? s.labels : drop_metric_name(s.labels), n);
    bool any = false;
    windows(s, [&](std::size_t i, std::size_t lo, std::size_t hi) {
      const std::span<const double> values(s.v.data() + lo, hi - lo);
      f.v[i] = apply_range_function(fn, values, param ? param->v[i] : 0, m.range_ms);
      f.has[i] = 1;
      any = true;
    });
    if (any) out.floats.push_back(std::move(f));
  }
  // Prometheus rejects equal labels in a range function's result at any steps.
  std::unordered_map<std::string, int> seen;
  for (const auto& f : out.floats) {
    if (++seen[labels_key(f.labels)] > 1) {
      return execution_error("vector cannot contain metrics with the same labelset");
    }
  }
  return Value(std::move(out));
}

Result<Value> Evaluator::call_label_function(const Call& c, const ScanFields& want) {
  ES_ASSIGN_OR_RETURN(Vector v, eval_vector(*c.args[0], want));
  if (c.func == Function::kLabelReplace) {
    ES_ASSIGN_OR_RETURN(auto replace,
                        LabelReplace::make(string_arg(*c.args[1]), string_arg(*c.args[2]),
                                           string_arg(*c.args[3]), string_arg(*c.args[4])));
    for (std::size_t s = 0; s < v.size(); ++s) {
      Labels& l = v.sketch ? v.sketches[s].labels : v.floats[s].labels;
      ES_ASSIGN_OR_RETURN(l, replace.apply(l));
    }
  } else {
    const std::string& dst = string_arg(*c.args[1]);
    const std::string& separator = string_arg(*c.args[2]);
    std::vector<std::string> src;
    for (std::size_t a = 3; a < c.args.size(); ++a) src.push_back(string_arg(*c.args[a]));
    ES_RETURN_IF_ERROR(check_label_join(dst, src));
    for (std::size_t s = 0; s < v.size(); ++s) {
      Labels& l = v.sketch ? v.sketches[s].labels : v.floats[s].labels;
      l = label_join(l, dst, separator, src);
    }
  }
  ES_RETURN_IF_ERROR(merge_equal_labels(v));
  return Value(std::move(v));
}

Result<Value> Evaluator::call_sketch_function(const Call& c) {
  ScanFields want;
  switch (c.func) {
    case Function::kDistinctCount:
      want.distinct = true;
      break;
    case Function::kTopkItems:
      want.topk = true;
      break;
    default:
      want.histogram = true;
  }
  const Expr& vec_arg = *c.args.back();
  std::vector<Scalar> params;
  for (std::size_t a = 0; a + 1 < c.args.size(); ++a) {
    ES_ASSIGN_OR_RETURN(Scalar s, eval_scalar(*c.args[a]));
    params.push_back(std::move(s));
  }
  if (c.func == Function::kHistogramQuantile && !params[0].v.empty()) {
    // One φ in [0, 1] for every step: the source may compute the quantiles while it scans and
    // never build the histograms.
    const double phi = params[0].v.front();
    if (phi >= 0 && phi <= 1 &&
        std::all_of(params[0].v.begin(), params[0].v.end(), [phi](double x) { return x == phi; })) {
      want.quantile = phi;
    }
  }
  ES_ASSIGN_OR_RETURN(Vector in, eval_vector(vec_arg, want));
  if (!in.sketch && !in.empty()) {
    return Status::invalid_argument(fmt::format(
        "{} needs sketch-valued series (a stored metric m, or sum by (...) (m)), got float "
        "series such as {}",
        function_name(c.func), labels_to_string(in.floats.front().labels)));
  }
  if (c.func == Function::kTopkItems) return topk_items(in, params[0]);
  Vector out;
  out.ordered = in.ordered;
  ES_RETURN_IF_ERROR(ctx_.budget->charge_points(in.sketches.size() * ctx_.n));
  for (const auto& s : in.sketches) {
    FloatSeries f = new_float_series(drop_metric_name(s.labels), ctx_.n);
    bool any = false;
    for (std::size_t j = 0; j < s.points.size(); ++j) {
      const auto& [i, agg] = s.points[j];
      std::optional<double> value;
      const auto* h = agg.histogram();
      switch (c.func) {
        case Function::kHistogramQuantile: {
          if (j < s.quantiles.size() && !std::isnan(s.quantiles[j])) {
            value = s.quantiles[j];  // computed by the source for this φ
            break;
          }
          if (h == nullptr || h->count() == 0) break;
          const double phi = params[0].v[i];
          if (std::isnan(phi)) {
            value = phi;
          } else if (phi < 0) {
            value = -std::numeric_limits<double>::infinity();
          } else if (phi > 1) {
            value = std::numeric_limits<double>::infinity();
          } else {
            value = h->quantile(phi);
          }
          break;
        }
        case Function::kHistogramCount:
          if (h != nullptr) value = static_cast<double>(h->count());
          break;
        case Function::kHistogramSum:
          if (h != nullptr) value = h->sum();
          break;
        case Function::kHistogramFraction:
          if (h != nullptr) value = histogram_fraction(params[0].v[i], params[1].v[i], *h);
          break;
        default: {
          const auto* d = agg.distinct();
          if (d != nullptr) value = d->estimate();
        }
      }
      if (!value) continue;
      f.v[i] = *value;
      f.has[i] = 1;
      any = true;
    }
    if (any) out.floats.push_back(std::move(f));
  }
  ES_RETURN_IF_ERROR(merge_equal_labels(out));
  return Value(std::move(out));
}

Result<Value> Evaluator::topk_items(const Vector& in, const Scalar& k_values) {
  Vector out;
  std::unordered_map<std::string, std::size_t> index;
  for (const auto& s : in.sketches) {
    const Labels base = drop_metric_name(s.labels);
    for (const auto& [i, agg] : s.points) {
      const double kd = k_values.v[i];
      const std::size_t max_topk = ctx_.options->max_topk_items;
      if (!(kd >= 1) || kd > static_cast<double>(max_topk) || kd != std::floor(kd)) {
        return Status::invalid_argument(
            fmt::format("topk_items: k must be an integer from 1 to {}, got {}", max_topk, kd));
      }
      const auto* t = agg.topk();
      if (t == nullptr) continue;
      for (const auto& item : t->top(static_cast<std::size_t>(kd))) {
        Labels l = base;
        set_label(l, "item", item.key);
        auto [it, fresh] = index.try_emplace(labels_key(l), out.floats.size());
        if (fresh) {
          ES_RETURN_IF_ERROR(ctx_.budget->charge_points(ctx_.n));
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

}  // namespace edgesketch::query::eval
