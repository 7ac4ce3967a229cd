// MemorySeriesSource: windows in std::maps, scanned into step buckets on demand.
#include "edgesketch/query/memory_series_source.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "edgesketch/common/time_math.h"

namespace edgesketch::query {
namespace {

// floor(a / b) for b > 0.
sketch::WindowAggregate project(const sketch::WindowAggregate& agg, const ScanFields& f) {
  if (f.histogram && f.distinct && f.topk) return agg;
  auto h = f.histogram && agg.histogram() ? std::optional(*agg.histogram()) : std::nullopt;
  auto d = f.distinct && agg.distinct() ? std::optional(*agg.distinct()) : std::nullopt;
  auto t = f.topk && agg.topk() ? std::optional(*agg.topk()) : std::nullopt;
  auto r = sketch::WindowAggregate::from_parts(agg.count(), agg.sum(), agg.min(), agg.max(),
                                               std::move(h), std::move(d), std::move(t));
  return r.ok() ? std::move(r).value() : agg;
}

}  // namespace

Status MemorySeriesSource::add(std::string_view tenant, Labels labels, std::int64_t window_start_ms,
                               std::int64_t window_ms, const sketch::WindowAggregate& agg) {
  sort_labels(labels);
  if (label_value(labels, kMetricNameLabel).empty()) {
    return Status::invalid_argument("memory source: series labels need a __name__");
  }
  if (window_ms <= 0) return Status::invalid_argument("memory source: window_ms must be > 0");
  std::lock_guard lock(mu_);
  auto& tenant_data = tenants_[std::string(tenant)];
  auto [it, inserted] = tenant_data.try_emplace(labels_key(labels));
  if (inserted) it->second.labels = std::move(labels);
  auto& windows = it->second.windows;
  auto [w, fresh] =
      windows.try_emplace(WindowSpan{window_start_ms + window_ms, window_start_ms}, agg);
  if (!fresh) return w->second.merge(agg);
  return Status();
}

std::vector<const MemorySeriesSource::Series*> MemorySeriesSource::select(
    std::string_view tenant, std::span<const LabelMatcher> matchers, std::int64_t start_ms,
    std::int64_t end_ms) const {
  std::vector<const Series*> out;
  auto t = tenants_.find(tenant);
  if (t == tenants_.end()) return out;
  for (const auto& [key, s] : t->second) {
    if (!matches_all(s.labels, matchers)) continue;
    // Overlap: end > start_ms and start <= end_ms. Windows are ordered by end, not start, so
    // check every window ending after start_ms (a test source; no index needed).
    const auto first = s.windows.upper_bound(WindowSpan{start_ms, kMaxTimeMs});
    if (std::any_of(first, s.windows.end(),
                    [&](const auto& w) { return w.first.second <= end_ms; }))
      out.push_back(&s);
  }
  return out;
}

Result<std::vector<SeriesRows>> MemorySeriesSource::scan(std::string_view tenant,
                                                         const ScanRequest& req) {
  if (req.step_ms <= 0) return Status::invalid_argument("memory source: step must be > 0");
  if (req.end_ms < req.start_ms) return std::vector<SeriesRows>{};
  std::lock_guard lock(mu_);
  const std::int64_t n = (req.end_ms - req.start_ms) / req.step_ms + 1;
  const std::int64_t last_t = req.start_ms + (n - 1) * req.step_ms;
  std::vector<SeriesRows> out;
  std::size_t points = 0;
  // Windows ending in (start - step, last_t] have data in [start - step, last_t - 1].
  for (const Series* s : select(tenant, req.matchers, req.start_ms - req.step_ms, last_t - 1)) {
    if (out.size() >= req.max_series) {
      return Status::resource_exhausted(
          fmt::format("scan selects more than {} series", req.max_series));
    }
    SeriesRows rows;
    rows.labels = s->labels;
    // Windows with end e in (start - step, last_t]; the point of e is the first t >= e:
    // bucket i = ceil((e - start) / step).
    for (auto w = s->windows.upper_bound(WindowSpan{req.start_ms - req.step_ms, kMaxTimeMs});
         w != s->windows.end() && w->first.first <= last_t; ++w) {
      const std::int64_t i = -floor_div(req.start_ms - w->first.first, req.step_ms);
      const std::int64_t t = req.start_ms + i * req.step_ms;
      if (!rows.points.empty() && rows.points.back().t_ms == t) {
        ES_RETURN_IF_ERROR(rows.points.back().agg.merge(project(w->second, req.fields)));
      } else {
        if (++points > req.max_points) {
          return Status::resource_exhausted(
              fmt::format("scan loads more than {} points", req.max_points));
        }
        rows.points.push_back(StepPoint{t, project(w->second, req.fields)});
      }
    }
    if (!rows.points.empty()) out.push_back(std::move(rows));
  }
  if (req.stats != nullptr) {
    req.stats->series = out.size();
    req.stats->points = points;
  }
  if (req.group) return group_rows(std::move(out), *req.group);
  return out;
}

Result<std::vector<Labels>> MemorySeriesSource::series(std::string_view tenant,
                                                       std::span<const LabelMatcher> matchers,
                                                       std::int64_t start_ms, std::int64_t end_ms,
                                                       std::size_t limit) {
  std::lock_guard lock(mu_);
  std::vector<Labels> out;
  for (const Series* s : select(tenant, matchers, start_ms, end_ms)) {
    if (out.size() >= limit) {
      return Status::resource_exhausted(fmt::format("more than {} series match", limit));
    }
    out.push_back(s->labels);
  }
  return out;
}

Result<std::vector<std::string>> MemorySeriesSource::label_values(
    std::string_view tenant, std::string_view name, std::span<const LabelMatcher> matchers,
    std::int64_t start_ms, std::int64_t end_ms) {
  std::lock_guard lock(mu_);
  std::set<std::string> values;
  for (const Series* s : select(tenant, matchers, start_ms, end_ms)) {
    auto v = label_value(s->labels, name);
    if (!v.empty()) values.emplace(v);
  }
  return std::vector<std::string>(values.begin(), values.end());
}

Result<std::vector<std::string>> MemorySeriesSource::label_names(
    std::string_view tenant, std::span<const LabelMatcher> matchers, std::int64_t start_ms,
    std::int64_t end_ms) {
  std::lock_guard lock(mu_);
  std::set<std::string> names;
  for (const Series* s : select(tenant, matchers, start_ms, end_ms)) {
    for (const auto& l : s->labels) names.insert(l.name);
  }
  return std::vector<std::string>(names.begin(), names.end());
}

}  // namespace edgesketch::query
