// Aggregations: sum min max avg count group stddev stdvar quantile topk bottomk count_values, with
// Prometheus' arithmetic (incremental mean, Welford variance) and its topk heap, per step.
#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include <fmt/format.h>

#include "edgesketch/query/go_float_format.h"
#include "evaluator.h"
#include "range_functions.h"

namespace edgesketch::query::eval {
namespace {

using sketch::WindowAggregate;

// The group labels of a series (by: only the grouping labels; without: all but them and the
// metric name).
Labels group_of(const Labels& l, const Aggregate& a) {
  if (a.without) {
    std::vector<std::string> drop = a.grouping;
    drop.emplace_back(kMetricNameLabel);
    return drop_labels(l, drop);
  }
  return keep_labels(l, a.grouping);
}

// Groups in order of first appearance, as Prometheus' aggregation keeps them.
struct Groups {
  std::vector<Labels> labels;
  std::vector<std::size_t> of;  // per input series
};
Groups assign_groups(const Vector& in, const Aggregate& a) {
  Groups g;
  std::unordered_map<std::string, std::size_t> index;
  for (std::size_t s = 0; s < in.size(); ++s) {
    Labels l = group_of(in.labels(s), a);
    auto [it, fresh] = index.try_emplace(labels_key(l), g.labels.size());
    if (fresh) g.labels.push_back(std::move(l));
    g.of.push_back(it->second);
  }
  return g;
}

// Go's container/heap over (value, series) with Prometheus' orders: vectorByValueHeap (topk: the
// smallest on top, NaN below everything) or vectorByReverseValueHeap (bottomk). Replicated so that
// ties pick the same series as Prometheus.
struct Heap {
  bool reverse = false;
  std::vector<std::pair<double, std::size_t>> items;

  bool less(std::size_t i, std::size_t j) const {
    if (std::isnan(items[i].first)) return true;
    return reverse ? items[i].first > items[j].first : items[i].first < items[j].first;
  }
  void up(std::size_t j) {
    while (j > 0) {
      const std::size_t i = (j - 1) / 2;
      if (!less(j, i)) break;
      std::swap(items[i], items[j]);
      j = i;
    }
  }
  void down(std::size_t i, std::size_t n) {
    while (true) {
      const std::size_t j1 = 2 * i + 1;
      if (j1 >= n) break;
      std::size_t j = j1;
      if (j1 + 1 < n && less(j1 + 1, j1)) j = j1 + 1;
      if (!less(j, i)) break;
      std::swap(items[i], items[j]);
      i = j;
    }
  }
  void push(std::pair<double, std::size_t> x) {
    items.push_back(x);
    up(items.size() - 1);
  }
  void pop() {
    const std::size_t n = items.size() - 1;
    std::swap(items[0], items[n]);
    down(0, n);
    items.pop_back();
  }
  // sort.Sort(sort.Reverse(heap)): Go sorts up to 12 elements by insertion sort (stable); beyond
  // that a stable sort stands in for its pdqsort (equal values may then come in another order).
  void sort_reversed() {
    auto before = [this](std::size_t a, std::size_t b) { return less(b, a); };
    if (items.size() <= 12) {
      for (std::size_t i = 1; i < items.size(); ++i) {
        for (std::size_t j = i; j > 0 && before(j, j - 1); --j) std::swap(items[j], items[j - 1]);
      }
      return;
    }
    std::vector<std::size_t> order(items.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), before);
    std::vector<std::pair<double, std::size_t>> sorted;
    sorted.reserve(items.size());
    for (std::size_t i : order) sorted.push_back(items[i]);
    items = std::move(sorted);
  }
};

// Prometheus' convertibleToInt64: within the int64 range (NaN is not).
bool convertible_to_int64(double v) {
  return v <= 9223372036854774784.0 && v >= -9223372036854775808.0;
}

}  // namespace

Result<Value> Evaluator::eval_node(const Aggregate& a, const Expr&, const ScanFields& want) {
  // sum/min/max by|without over a selector: the source merges the groups while it scans.
  // (`by (__name__)` keeps the visible name, which the source does not know.)
  const bool pushable =
      a.op == AggregateOp::kSum || a.op == AggregateOp::kMin || a.op == AggregateOp::kMax;
  if (const auto* sel = std::get_if<VectorSelector>(&strip_parens(*a.arg).node);
      pushable && sel != nullptr &&
      (a.without ||
       std::find(a.grouping.begin(), a.grouping.end(), kMetricNameLabel) == a.grouping.end())) {
    ES_ASSIGN_OR_RETURN(Selected grouped, select(*sel, want, &a));
    if (!grouped.declined) return Value(std::move(grouped.vector));
  }
  std::optional<Scalar> param;
  std::string label;
  if (a.param) {
    ES_ASSIGN_OR_RETURN(Value p, eval(*a.param, ScanFields{}));
    if (auto* s = std::get_if<Scalar>(&p)) param = std::move(*s);
    if (auto* s = std::get_if<String>(&p)) label = std::move(s->s);
  }
  // Only `sum` keeps sketches (combined before any quantile); the others need none of them.
  ScanFields arg_want;
  if (a.op == AggregateOp::kSum) {
    arg_want = want;
    arg_want.quantile.reset();
  }
  ES_ASSIGN_OR_RETURN(Vector in, eval_vector(*a.arg, arg_want));
  if (in.sketch && !in.empty()) return aggregate_sketches(a, std::move(in));
  switch (a.op) {
    case AggregateOp::kTopk:
    case AggregateOp::kBottomk:
      return topk(a, std::move(in), *param);
    case AggregateOp::kCountValues:
      return count_values(a, std::move(in), label);
    default:
      return aggregate_floats(a, std::move(in), param ? &*param : nullptr);
  }
}

Result<Value> Evaluator::aggregate_sketches(const Aggregate& a, Vector in) {
  const Groups groups = assign_groups(in, a);
  Vector out;
  if (a.op == AggregateOp::kSum) {
    out.sketch = true;
    std::vector<std::vector<std::pair<std::uint32_t, const WindowAggregate*>>> parts(
        groups.labels.size());
    for (std::size_t s = 0; s < in.sketches.size(); ++s) {
      for (const auto& [i, agg] : in.sketches[s].points) parts[groups.of[s]].emplace_back(i, &agg);
    }
    for (std::size_t g = 0; g < groups.labels.size(); ++g) {
      auto& p = parts[g];
      std::stable_sort(p.begin(), p.end(),
                       [](const auto& x, const auto& y) { return x.first < y.first; });
      SketchSeries merged{groups.labels[g], {}, {}};
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
  if (a.op != AggregateOp::kCount && a.op != AggregateOp::kGroup) {
    return Status::invalid_argument(fmt::format(
        "{} over sketch-valued series is not defined: use sum (merges the sketches), count or "
        "group, or aggregate the float views such as {}_max",
        aggregate_op_name(a.op), label_value(in.sketches.front().labels, kMetricNameLabel)));
  }
  ES_RETURN_IF_ERROR(ctx_.budget->charge_points(groups.labels.size() * ctx_.n));
  for (const auto& g : groups.labels) out.floats.push_back(new_float_series(g, ctx_.n));
  for (std::size_t s = 0; s < in.sketches.size(); ++s) {
    FloatSeries& f = out.floats[groups.of[s]];
    for (const auto& p : in.sketches[s].points) {
      f.v[p.first] = a.op == AggregateOp::kGroup ? 1 : f.v[p.first] + 1;
      f.has[p.first] = 1;
    }
  }
  return Value(std::move(out));
}

Result<Value> Evaluator::aggregate_floats(const Aggregate& a, Vector in, const Scalar* param) {
  const Groups groups = assign_groups(in, a);
  const std::size_t n = ctx_.n;
  const std::size_t ng = groups.labels.size();
  ES_RETURN_IF_ERROR(ctx_.budget->charge_points(ng * n));
  Vector out;
  for (const auto& g : groups.labels) out.floats.push_back(new_float_series(g, n));
  // Per group and step: the running count and mean (avg, stddev, stdvar).
  std::vector<double> count(ng * n, 0.0), mean;
  std::vector<std::vector<double>> values;  // quantile
  if (a.op == AggregateOp::kAvg || a.op == AggregateOp::kStddev || a.op == AggregateOp::kStdvar) {
    mean.assign(ng * n, 0.0);
  }
  if (a.op == AggregateOp::kQuantile) values.resize(ng * n);
  // Series in input order, then steps: each (group, step) sees its samples in input order.
  for (std::size_t s = 0; s < in.floats.size(); ++s) {
    const FloatSeries& src = in.floats[s];
    FloatSeries& dst = out.floats[groups.of[s]];
    const std::size_t base = groups.of[s] * n;
    for (std::size_t i = 0; i < n; ++i) {
      if (!src.has[i]) continue;
      const double v = src.v[i];
      double& acc = dst.v[i];
      double& c = count[base + i];
      if (!dst.has[i]) {
        dst.has[i] = 1;
        c = 1;
        switch (a.op) {
          case AggregateOp::kCount:
          case AggregateOp::kGroup:
            acc = 1;
            break;
          case AggregateOp::kStddev:
          case AggregateOp::kStdvar:
            acc = 0;
            mean[base + i] = v;
            break;
          case AggregateOp::kAvg:
            mean[base + i] = v;
            acc = v;
            break;
          case AggregateOp::kQuantile:
            values[base + i].push_back(v);
            break;
          default:
            acc = v;
        }
        continue;
      }
      c += 1;
      switch (a.op) {
        case AggregateOp::kSum:
          acc += v;
          break;
        case AggregateOp::kMin:
          if (acc > v || std::isnan(acc)) acc = v;
          break;
        case AggregateOp::kMax:
          if (acc < v || std::isnan(acc)) acc = v;
          break;
        case AggregateOp::kCount:
          acc += 1;
          break;
        case AggregateOp::kGroup:
          break;
        case AggregateOp::kAvg: {
          double& m = mean[base + i];
          if (std::isinf(m)) {
            // An infinite mean stays as it is unless an opposite infinity or a NaN comes.
            if (std::isinf(v) && (m > 0) == (v > 0)) break;
            if (!std::isinf(v) && !std::isnan(v)) break;
          }
          m += v / c - m / c;
          break;
        }
        case AggregateOp::kStddev:
        case AggregateOp::kStdvar: {
          double& m = mean[base + i];
          const double delta = v - m;
          m += delta / c;
          acc += delta * (v - m);
          break;
        }
        case AggregateOp::kQuantile:
          values[base + i].push_back(v);
          break;
        default:
          break;
      }
    }
  }
  for (std::size_t g = 0; g < ng; ++g) {
    FloatSeries& f = out.floats[g];
    for (std::size_t i = 0; i < n; ++i) {
      if (!f.has[i]) continue;
      const std::size_t k = g * n + i;
      switch (a.op) {
        case AggregateOp::kAvg:
          f.v[i] = mean[k];
          break;
        case AggregateOp::kStdvar:
          f.v[i] = f.v[i] / count[k];
          break;
        case AggregateOp::kStddev:
          f.v[i] = std::sqrt(f.v[i] / count[k]);
          break;
        case AggregateOp::kQuantile:
          f.v[i] = sample_quantile(param->v[i], values[k]);
          break;
        default:
          break;
      }
    }
  }
  return Value(std::move(out));
}

Result<Value> Evaluator::topk(const Aggregate& a, Vector in, const Scalar& k_values) {
  const std::size_t n = ctx_.n;
  std::vector<std::int64_t> ks(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double f = k_values.v[i];
    if (!convertible_to_int64(f)) {
      return execution_error(fmt::format("Scalar value {} overflows int64", go_format_v(f)));
    }
    ks[i] = static_cast<std::int64_t>(f);
  }
  const Groups groups = assign_groups(in, a);
  const bool bottom = a.op == AggregateOp::kBottomk;
  // Input series → output series, created in the order the first step emits them.
  std::vector<std::size_t> out_of(in.floats.size(), SIZE_MAX);
  Vector out;
  out.ordered = true;
  std::vector<Heap> heaps(groups.labels.size());
  std::vector<char> seen(groups.labels.size());
  std::vector<std::size_t> group_order;
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t k = ks[i];
    if (k < 1) continue;
    group_order.clear();
    std::fill(seen.begin(), seen.end(), 0);
    for (std::size_t s = 0; s < in.floats.size(); ++s) {
      const FloatSeries& src = in.floats[s];
      if (!src.has[i]) continue;
      const std::size_t g = groups.of[s];
      Heap& h = heaps[g];
      const double v = src.v[i];
      if (!seen[g]) {
        seen[g] = 1;
        group_order.push_back(g);
        h.reverse = bottom;
        h.items.assign(1, {v, s});
        continue;
      }
      const double top = h.items.front().first;
      const bool better = bottom ? top > v : top < v;
      if (static_cast<std::int64_t>(h.items.size()) < k || better || std::isnan(top)) {
        if (static_cast<std::int64_t>(h.items.size()) == k) {
          if (k == 1) {
            h.items[0] = {v, s};
            continue;
          }
          h.pop();
        }
        h.push({v, s});
      }
    }
    for (std::size_t g : group_order) {
      Heap& h = heaps[g];
      if (h.items.size() > 1) h.sort_reversed();
      for (const auto& [v, s] : h.items) {
        if (out_of[s] == SIZE_MAX) {
          ES_RETURN_IF_ERROR(ctx_.budget->charge_points(n));
          out_of[s] = out.floats.size();
          out.floats.push_back(new_float_series(in.floats[s].labels, n));
        }
        FloatSeries& f = out.floats[out_of[s]];
        f.v[i] = v;
        f.has[i] = 1;
      }
    }
  }
  return Value(std::move(out));
}

Result<Value> Evaluator::count_values(const Aggregate& a, Vector in, const std::string& label) {
  if (!is_valid_label_name(label)) {
    return execution_error(fmt::format("invalid label name \"{}\"", label));
  }
  Aggregate grouping = Aggregate{a.op, a.without, a.grouping, nullptr, nullptr};
  if (!a.without) {
    grouping.grouping.push_back(label);
    std::sort(grouping.grouping.begin(), grouping.grouping.end());
  }
  const std::size_t n = ctx_.n;
  Vector out;
  std::unordered_map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < n; ++i) {
    for (const FloatSeries& src : in.floats) {
      if (!src.has[i]) continue;
      Labels l = src.labels;
      set_label(l, label, go_format_f(src.v[i]));
      Labels g = group_of(l, grouping);
      auto [it, fresh] = index.try_emplace(labels_key(g), out.floats.size());
      if (fresh) {
        ES_RETURN_IF_ERROR(ctx_.budget->charge_points(n));
        out.floats.push_back(new_float_series(std::move(g), n));
      }
      FloatSeries& f = out.floats[it->second];
      f.v[i] = f.has[i] ? f.v[i] + 1 : 1;
      f.has[i] = 1;
    }
  }
  return Value(std::move(out));
}

}  // namespace edgesketch::query::eval
