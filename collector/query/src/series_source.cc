// Grouping and label-listing helpers of the SeriesSource interface.
#include "edgesketch/query/series_source.h"

#include <algorithm>
#include <map>
#include <set>

namespace edgesketch::query {

Labels group_labels(const Labels& series, const ScanGrouping& grouping) {
  if (grouping.without) {
    std::vector<std::string> drop = grouping.labels;
    drop.emplace_back(kMetricNameLabel);
    return drop_labels(series, drop);
  }
  return keep_labels(series, grouping.labels);
}

Result<std::vector<SeriesRows>> group_rows(std::vector<SeriesRows> rows,
                                           const ScanGrouping& grouping) {
  std::map<std::string, SeriesRows> groups;
  for (SeriesRows& r : rows) {
    Labels g = group_labels(r.labels, grouping);
    auto [it, fresh] = groups.try_emplace(labels_key(g));
    if (fresh) {
      it->second.labels = std::move(g);
      it->second.points = std::move(r.points);
      continue;
    }
    // Merge two increasing point lists.
    std::vector<StepPoint>& acc = it->second.points;
    std::vector<StepPoint> merged;
    merged.reserve(acc.size() + r.points.size());
    std::size_t i = 0, j = 0;
    while (i < acc.size() || j < r.points.size()) {
      if (j == r.points.size() || (i < acc.size() && acc[i].t_ms < r.points[j].t_ms)) {
        merged.push_back(std::move(acc[i++]));
      } else if (i == acc.size() || r.points[j].t_ms < acc[i].t_ms) {
        merged.push_back(std::move(r.points[j++]));
      } else {
        ES_RETURN_IF_ERROR(acc[i].agg.merge(r.points[j].agg));
        merged.push_back(std::move(acc[i++]));
        ++j;
      }
    }
    acc = std::move(merged);
  }
  std::vector<SeriesRows> out;
  out.reserve(groups.size());
  for (auto& [key, g] : groups) out.push_back(std::move(g));
  return out;
}

std::vector<std::string> label_values_of(const std::vector<Labels>& series, std::string_view name) {
  std::set<std::string> values;
  for (const Labels& labels : series) {
    const std::string_view v = label_value(labels, name);
    if (!v.empty()) values.emplace(v);
  }
  return std::vector<std::string>(values.begin(), values.end());
}

std::vector<std::string> label_names_of(const std::vector<Labels>& series) {
  std::set<std::string> names;
  for (const Labels& labels : series) {
    for (const Label& l : labels) names.insert(l.name);
  }
  return std::vector<std::string>(names.begin(), names.end());
}

}  // namespace edgesketch::query
