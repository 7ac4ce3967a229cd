#include "app/store_source.h"

#include <algorithm>
#include <unordered_map>

namespace edgesketch::collector {

namespace {

store::LabelMatcher::Op store_op(query::MatchOp op) {
  switch (op) {
    case query::MatchOp::kEqual:
      return store::LabelMatcher::Op::kEqual;
    case query::MatchOp::kNotEqual:
      return store::LabelMatcher::Op::kNotEqual;
    case query::MatchOp::kRegexMatch:
      return store::LabelMatcher::Op::kRegexMatch;
    case query::MatchOp::kRegexNoMatch:
      return store::LabelMatcher::Op::kRegexNoMatch;
  }
  return store::LabelMatcher::Op::kEqual;
}

// The store's matchers for `matchers` (its catalog index answers all of them, with RE2 regexes
// as PromQL's) over the series of `rollup`, or over the stored series (no rollup tag) when null.
std::vector<store::LabelMatcher> store_matchers(std::span<const query::LabelMatcher> matchers,
                                                const store::RollupInfo* rollup) {
  std::vector<store::LabelMatcher> out;
  out.reserve(matchers.size() + 1);
  for (const query::LabelMatcher& m : matchers) {
    out.push_back(store::LabelMatcher{m.name(), store_op(m.op()), m.value()});
  }
  out.push_back(store::LabelMatcher{store::kRollupTag, store::LabelMatcher::Op::kEqual,
                                    rollup != nullptr ? rollup->name : std::string()});
  return out;
}

// The rollup that answers `req` (a grouped scan by labels G with matchers on labels of the set
// only, over a range where the rollup is complete), the smallest such; nullptr when none does.
const store::RollupInfo* rollup_for(const std::vector<store::RollupInfo>& rollups,
                                    const query::ScanRequest& req) {
  if (!req.group || req.group->without) return nullptr;
  const store::RollupInfo* best = nullptr;
  for (const store::RollupInfo& r : rollups) {
    auto in_set = [&](const std::string& name) {
      return std::binary_search(r.labels.begin(), r.labels.end(), name);
    };
    if (req.start_ms - req.step_ms < r.since_ms) continue;
    if (!std::all_of(req.group->labels.begin(), req.group->labels.end(), in_set)) continue;
    bool ok = true;
    for (const query::LabelMatcher& m : req.matchers) {
      if (m.name() == query::kMetricNameLabel) {
        ok = ok && m.op() == query::MatchOp::kEqual;
      } else {
        ok = ok && in_set(m.name());
      }
    }
    if (ok && (best == nullptr || r.labels.size() < best->labels.size())) best = &r;
  }
  return best;
}

}  // namespace

query::Labels labels_of(const wire::SeriesKey& key) {
  query::Labels labels;
  labels.reserve(key.tags.size() + 1);
  labels.push_back(query::Label{std::string(query::kMetricNameLabel), key.metric});
  for (const wire::Tag& t : key.tags) labels.push_back(query::Label{t.key, t.value});
  query::sort_labels(labels);
  return labels;
}

Result<std::vector<query::SeriesRows>> StoreSeriesSource::scan(std::string_view tenant,
                                                               const query::ScanRequest& req) {
  // Select first (the catalog's index answers the matchers), then scan exactly the selected
  // series: non-matching series are never read. A grouped scan that a label rollup answers
  // reads the rollup's series instead (one per combination of its labels' values).
  const std::vector<store::RollupInfo> rollups = store_.rollups();
  const store::RollupInfo* rollup = rollup_for(rollups, req);
  ES_ASSIGN_OR_RETURN(std::vector<store::SeriesInfo> infos,
                      store_.select(tenant, store_matchers(req.matchers, rollup)));
  // The series limit is known now, before anything is read.
  if (infos.size() > req.max_series) {
    return Status::resource_exhausted("the query selects more than " +
                                      std::to_string(req.max_series) + " series");
  }
  std::vector<std::uint64_t> ids;
  std::vector<query::Labels> labels;
  ids.reserve(infos.size());
  labels.reserve(infos.size());
  for (store::SeriesInfo& info : infos) {
    if (rollup != nullptr) {
      std::erase_if(info.key.tags, [](const wire::Tag& t) { return t.key == store::kRollupTag; });
    }
    ids.push_back(info.id);
    labels.push_back(labels_of(info.key));
  }
  if (req.stats != nullptr) req.stats->series = ids.size();
  if (ids.empty()) return std::vector<query::SeriesRows>{};

  store::ScanRequest s;
  s.tenant = std::string(tenant);
  s.start_ms = req.start_ms;
  s.end_ms = req.end_ms + 1;  // the store's end is exclusive, the engine's inclusive
  s.step_ms = req.step_ms;
  s.histogram = req.fields.histogram;
  s.distinct = req.fields.distinct;
  s.topk = req.fields.topk;
  if (req.fields.histogram) s.quantile = req.fields.quantile;
  // The store wants the ids sorted; select() returns them by id already.
  std::vector<std::size_t> order(ids.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return ids[a] < ids[b]; });
  std::vector<std::uint64_t> sorted_ids(ids.size());
  for (std::size_t i = 0; i < order.size(); ++i) sorted_ids[i] = ids[order[i]];
  // Grouped: the store merges the series of a group while it scans.
  std::vector<query::Labels> group_labels;
  if (req.group) {
    std::unordered_map<std::string, std::uint32_t> index;
    s.group_of.resize(ids.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
      query::Labels g = query::group_labels(labels[order[i]], *req.group);
      auto [it, fresh] =
          index.try_emplace(query::labels_key(g), static_cast<std::uint32_t>(group_labels.size()));
      if (fresh) group_labels.push_back(std::move(g));
      s.group_of[i] = it->second;
    }
  }
  s.series_ids = std::move(sorted_ids);
  // The store stops reading once the rows it merged are over the points limit.
  s.max_rows = req.max_points;
  ES_ASSIGN_OR_RETURN(store::ScanResult r, store_.scan(s));
  if (req.stats != nullptr) req.stats->points = r.rows_read;
  if (r.rows_limit_exceeded) {
    return Status::resource_exhausted("the query loads more than " +
                                      std::to_string(req.max_points) + " points");
  }

  std::size_t points = 0;
  std::vector<query::SeriesRows> out;
  out.reserve(r.series.size());
  for (store::SeriesPoints& sp : r.series) {
    points += sp.points.size();
    if (points > req.max_points) {
      return Status::resource_exhausted("the query loads more than " +
                                        std::to_string(req.max_points) + " points");
    }
    query::SeriesRows rows;
    if (req.group) {
      rows.labels = group_labels[sp.series_id];
    } else {
      // By position: sp.series_id is one of the selected ids.
      auto it = std::lower_bound(s.series_ids->begin(), s.series_ids->end(), sp.series_id);
      rows.labels = labels[order[static_cast<std::size_t>(it - s.series_ids->begin())]];
    }
    rows.points.reserve(sp.points.size());
    for (store::ScanPoint& p : sp.points) {
      rows.points.push_back(query::StepPoint{p.t_ms, std::move(p.agg), p.quantile});
    }
    out.push_back(std::move(rows));
  }
  if (req.group) {
    std::sort(out.begin(), out.end(), [](const query::SeriesRows& a, const query::SeriesRows& b) {
      return a.labels < b.labels;
    });
  }
  return out;
}

Result<std::vector<query::Labels>> StoreSeriesSource::select(
    std::string_view tenant, std::span<const query::LabelMatcher> matchers, std::size_t limit) {
  ES_ASSIGN_OR_RETURN(std::vector<store::SeriesInfo> infos,
                      store_.select(tenant, store_matchers(matchers, nullptr)));
  if (infos.size() > limit) {
    return Status::resource_exhausted("more than " + std::to_string(limit) +
                                      " series match; narrow the selector");
  }
  std::vector<query::Labels> out;
  out.reserve(infos.size());
  for (const store::SeriesInfo& info : infos) out.push_back(labels_of(info.key));
  return out;
}

Result<std::vector<query::Labels>> StoreSeriesSource::series(
    std::string_view tenant, std::span<const query::LabelMatcher> matchers, std::int64_t,
    std::int64_t, std::size_t limit) {
  return select(tenant, matchers, limit);
}

Result<std::vector<std::string>> StoreSeriesSource::label_values(
    std::string_view tenant, std::string_view name, std::span<const query::LabelMatcher> matchers,
    std::int64_t, std::int64_t) {
  ES_ASSIGN_OR_RETURN(auto all, select(tenant, matchers, std::size_t{10'000'000}));
  return query::label_values_of(all, name);
}

Result<std::vector<std::string>> StoreSeriesSource::label_names(
    std::string_view tenant, std::span<const query::LabelMatcher> matchers, std::int64_t,
    std::int64_t) {
  ES_ASSIGN_OR_RETURN(auto all, select(tenant, matchers, std::size_t{10'000'000}));
  return query::label_names_of(all);
}

std::int64_t StoreSeriesSource::resolution_ms(std::int64_t step_ms) const {
  // The store's rule: the coarsest tier whose resolution divides the step, else the finest.
  const std::vector<std::uint32_t>& tiers = store_.options().tiers_ms;
  for (auto it = tiers.rbegin(); it != tiers.rend(); ++it) {
    if (step_ms > 0 && step_ms % *it == 0) return *it;
  }
  return tiers.empty() ? 0 : tiers.front();
}

}  // namespace edgesketch::collector
