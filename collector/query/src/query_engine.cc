// QueryEngine: runs the evaluator (evaluator.h) for instant and range queries and answers the
// metadata questions of the Prometheus API.
#include "edgesketch/query/query_engine.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <variant>

#include <fmt/format.h>

#include "edgesketch/query/promql_parser.h"
#include "evaluator.h"
#include "metric_views.h"

namespace edgesketch::query {
namespace {

using eval::kTooManySamples;
using sketch::WindowAggregate;

// A sketch-valued result is returned as the histograms of its points.
const ScanFields kResultFields{.histogram = true};

// A sketch-valued result none of whose points keeps a histogram (a metric whose rule keeps only
// a HyperLogLog or a top-K summary): nothing to return as a native histogram.
Status no_histogram_error(const Labels& labels) {
  const std::string_view name = label_value(labels, kMetricNameLabel);
  const std::string_view m = name.empty() ? std::string_view("m") : name;
  return Status::invalid_argument(fmt::format(
      "series {} hold sketches without a histogram, which cannot be returned: select {}_count, "
      "{}_sum, {}_min or {}_max, or use distinct_count(…) or topk_items(k, …)",
      labels_to_string(labels), m, m, m, m));
}

// The histograms of a sketch-valued result, each charged as its buckets' worth of samples.
Status sketch_output(eval::Vector& vec, const eval::Ctx& ctx, QueryResult& r) {
  // Points without a histogram are left out; none with one at all is an error (unless there
  // are no points).
  const eval::SketchSeries* with_points = nullptr;
  bool any_histogram = false;
  for (const auto& s : vec.sketches) {
    if (!s.points.empty() && with_points == nullptr) with_points = &s;
    for (const auto& p : s.points) any_histogram |= p.second.histogram() != nullptr;
  }
  if (with_points != nullptr && !any_histogram) return no_histogram_error(with_points->labels);
  for (auto& s : vec.sketches) {
    ResultSeries out;
    out.labels = std::move(s.labels);
    for (auto& [i, agg] : s.points) {
      const sketch::ExpHistogram* h = agg.histogram();
      if (h == nullptr) continue;
      const std::size_t buckets = h->positive_counts().size() + h->negative_counts().size() + 1;
      ES_RETURN_IF_ERROR(ctx.budget->charge_points(buckets));
      out.histograms.push_back(HistogramSample{ctx.t(i), *h});
      agg = WindowAggregate();  // the result holds the copy: free the point as we go
    }
    if (!out.histograms.empty()) r.series.push_back(std::move(out));
  }
  return Status();
}

void sort_series(std::vector<ResultSeries>& s) {
  std::sort(s.begin(), s.end(),
            [](const ResultSeries& a, const ResultSeries& b) { return a.labels < b.labels; });
}

Result<QueryResult> finish(eval::Value v, const eval::Ctx& ctx) {
  QueryResult r;
  r.t_ms = ctx.start_ms;
  if (auto* s = std::get_if<eval::String>(&v)) {
    if (!ctx.instant) {
      return Status::invalid_argument(
          "invalid expression type \"string\" for range query, must be Scalar or instant Vector");
    }
    r.type = ResultType::kString;
    r.string_value = std::move(s->s);
    return r;
  }
  if (auto* s = std::get_if<eval::Scalar>(&v)) {
    r.type = ctx.instant ? ResultType::kScalar : ResultType::kMatrix;
    ResultSeries out;
    for (std::size_t i = 0; i < ctx.n; ++i) out.samples.push_back(Sample{ctx.t(i), s->v[i]});
    r.series.push_back(std::move(out));
    return r;
  }
  if (auto* m = std::get_if<eval::Matrix>(&v)) {
    // A subquery at the top of an instant query: its samples (Prometheus' range vector result).
    if (!ctx.instant) {
      return Status::invalid_argument(
          "invalid expression type \"range vector\" for range query, must be Scalar or instant "
          "Vector");
    }
    r.type = ResultType::kMatrix;
    for (auto& s : m->series) {
      ResultSeries out;
      out.labels = std::move(s.labels);
      for (std::size_t j = 0; j < s.t.size(); ++j) {
        if (s.t[j] > m->ends[0] - m->range_ms && s.t[j] <= m->ends[0]) {
          out.samples.push_back(Sample{s.t[j], s.v[j]});
        }
      }
      if (!out.samples.empty()) r.series.push_back(std::move(out));
    }
    sort_series(r.series);
    return r;
  }
  eval::Vector& vec = std::get<eval::Vector>(v);
  r.type = ctx.instant ? ResultType::kVector : ResultType::kMatrix;
  if (vec.sketch) ES_RETURN_IF_ERROR(sketch_output(vec, ctx, r));
  for (auto& f : vec.floats) {
    ResultSeries out;
    out.labels = std::move(f.labels);
    for (std::size_t i = 0; i < ctx.n; ++i) {
      if (f.has[i]) out.samples.push_back(Sample{ctx.t(i), f.v[i]});
    }
    if (!out.samples.empty()) r.series.push_back(std::move(out));
  }
  // Instant vectors ordered by sort(), sort_desc(), topk() or bottomk() keep their order, as in
  // Prometheus; everything else is sorted by labels.
  if (!(ctx.instant && vec.ordered)) sort_series(r.series);
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
  ES_RETURN_IF_ERROR(eval::in_time_range(t_ms).status());
  eval::Budget budget{&limits};
  eval::Ctx ctx;
  ctx.tenant = tenant;
  ctx.start_ms = t_ms;
  ctx.step_ms = 0;
  ctx.n = 1;
  ctx.instant = true;
  ctx.lookback_ms = options_.lookback_ms;
  ctx.query_start_ms = ctx.query_end_ms = t_ms;
  ctx.options = &options_;
  ctx.budget = &budget;
  eval::Evaluator ev(source_, ctx);
  ES_ASSIGN_OR_RETURN(eval::Value v, ev.eval(expr, kResultFields));
  return finish(std::move(v), ctx);
}

Result<QueryResult> QueryEngine::range(std::string_view tenant, const Expr& expr,
                                       std::int64_t start_ms, std::int64_t end_ms,
                                       std::int64_t step_ms, const QueryLimits& limits) const {
  if (step_ms <= 0) return Status::invalid_argument("range query: step must be positive");
  if (end_ms < start_ms) return Status::invalid_argument("range query: end is before start");
  ES_RETURN_IF_ERROR(eval::in_time_range(start_ms).status());
  ES_RETURN_IF_ERROR(eval::in_time_range(end_ms).status());
  const std::int64_t n = (end_ms - start_ms) / step_ms + 1;
  if (static_cast<std::uint64_t>(n) > limits.max_points) {
    return Status::resource_exhausted(std::string(kTooManySamples));
  }
  eval::Budget budget{&limits};
  eval::Ctx ctx;
  ctx.tenant = tenant;
  ctx.start_ms = start_ms;
  ctx.step_ms = step_ms;
  ctx.n = static_cast<std::size_t>(n);
  ctx.instant = false;
  ctx.lookback_ms = options_.lookback_ms;
  ctx.query_start_ms = start_ms;
  ctx.query_end_ms = end_ms;
  ctx.options = &options_;
  ctx.budget = &budget;
  eval::Evaluator ev(source_, ctx);
  ES_ASSIGN_OR_RETURN(eval::Value v, ev.eval(expr, kResultFields));
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
