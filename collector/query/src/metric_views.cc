// Visible names of stored metrics.
#include "metric_views.h"

#include <cmath>

namespace edgesketch::query {
namespace {

struct Suffix {
  std::string_view text;
  Field field;
};
constexpr Suffix kSuffixes[] = {
    {"_count", Field::kCount}, {"_sum", Field::kSum}, {"_min", Field::kMin}, {"_max", Field::kMax}};

void add_views_of(const std::string& stored, std::vector<MetricView>& out) {
  out.push_back(MetricView{stored, Field::kSketch, stored});
  for (const auto& s : kSuffixes)
    out.push_back(MetricView{stored, s.field, stored + std::string(s.text)});
}

}  // namespace

std::vector<std::string> visible_names(const std::string& stored) {
  std::vector<std::string> out{stored};
  for (const auto& s : kSuffixes) out.push_back(stored + std::string(s.text));
  return out;
}

Result<std::vector<MetricView>> resolve_views(SeriesSource& source, std::string_view tenant,
                                              std::span<const LabelMatcher> matchers,
                                              std::int64_t start_ms, std::int64_t end_ms) {
  std::vector<MetricView> candidates;
  const LabelMatcher* equal = nullptr;
  std::vector<LabelMatcher> others;
  for (const auto& m : matchers) {
    if (m.name() == kMetricNameLabel) {
      if (equal == nullptr && m.op() == MatchOp::kEqual) equal = &m;
    } else {
      others.push_back(m);
    }
  }
  if (equal != nullptr) {
    const std::string& v = equal->value();
    candidates.push_back(MetricView{v, Field::kSketch, v});
    for (const auto& s : kSuffixes) {
      if (v.size() > s.text.size() && v.ends_with(s.text)) {
        candidates.push_back(MetricView{v.substr(0, v.size() - s.text.size()), s.field, v});
      }
    }
  } else {
    ES_ASSIGN_OR_RETURN(auto stored,
                        source.label_values(tenant, kMetricNameLabel, others, start_ms, end_ms));
    for (const auto& s : stored) add_views_of(s, candidates);
  }
  std::vector<MetricView> out;
  for (auto& c : candidates) {
    bool ok = true;
    for (const auto& m : matchers) {
      if (m.name() == kMetricNameLabel && !m.matches(c.visible)) ok = false;
    }
    if (ok) out.push_back(std::move(c));
  }
  return out;
}

std::vector<LabelMatcher> stored_matchers(std::span<const LabelMatcher> matchers,
                                          const std::string& stored) {
  std::vector<LabelMatcher> out;
  for (const auto& m : matchers) {
    if (m.name() != kMetricNameLabel) out.push_back(m);
  }
  auto name = LabelMatcher::make(std::string(kMetricNameLabel), MatchOp::kEqual, stored);
  out.push_back(std::move(name).value());  // equality matchers always build
  return out;
}

std::optional<double> field_value(const sketch::WindowAggregate& agg, Field field) {
  switch (field) {
    case Field::kCount:
      return static_cast<double>(agg.count());
    case Field::kSum:
      return agg.sum();
    case Field::kMin:
      if (std::isinf(agg.min())) return std::nullopt;
      return agg.min();
    case Field::kMax:
      if (std::isinf(agg.max())) return std::nullopt;
      return agg.max();
    case Field::kSketch:
      break;
  }
  return std::nullopt;
}

}  // namespace edgesketch::query
