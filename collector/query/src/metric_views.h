// How stored metrics appear to queries: stored metric `m` is visible as the sketch-valued `m`
// and the float-valued `m_count`, `m_sum`, `m_min`, `m_max`.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "edgesketch/query/label_matcher.h"
#include "edgesketch/query/series_source.h"

namespace edgesketch::query {

enum class Field : std::uint8_t { kSketch, kCount, kSum, kMin, kMax };

// One stored metric seen under one visible name.
struct MetricView {
  std::string stored;
  Field field = Field::kSketch;
  std::string visible;
};

// The views of a selector's `__name__` matchers: the candidates derived from an equality
// matcher, else from the stored metric names the source lists, filtered by every name matcher.
Result<std::vector<MetricView>> resolve_views(SeriesSource& source, std::string_view tenant,
                                              std::span<const LabelMatcher> matchers,
                                              std::int64_t start_ms, std::int64_t end_ms);

// `matchers` without the `__name__` ones, plus `__name__="stored"`.
std::vector<LabelMatcher> stored_matchers(std::span<const LabelMatcher> matchers,
                                          const std::string& stored);

// The five visible names of a stored metric.
std::vector<std::string> visible_names(const std::string& stored);

// The float of an aggregate for a field view; nullopt when the aggregate has none (min/max of a
// window without numeric values).
std::optional<double> field_value(const sketch::WindowAggregate& agg, Field field);

}  // namespace edgesketch::query
