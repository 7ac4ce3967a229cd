// StoreSeriesSource: the query engine's SeriesSource over the collector's Store. Translates
// label matchers, maps series keys to label sets (`__name__` = metric) and enforces the scan
// bounds of the query limits.
#pragma once

#include "edgesketch/query/series_source.h"
#include "edgesketch/store/store.h"

namespace edgesketch::collector {

class StoreSeriesSource final : public query::SeriesSource {
 public:
  explicit StoreSeriesSource(store::Store& store) : store_(store) {}

  Result<std::vector<query::SeriesRows>> scan(std::string_view tenant,
                                              const query::ScanRequest& req) override;
  Result<std::vector<query::Labels>> series(std::string_view tenant,
                                            std::span<const query::LabelMatcher> matchers,
                                            std::int64_t start_ms, std::int64_t end_ms,
                                            std::size_t limit) override;
  Result<std::vector<std::string>> label_values(std::string_view tenant, std::string_view name,
                                                std::span<const query::LabelMatcher> matchers,
                                                std::int64_t start_ms,
                                                std::int64_t end_ms) override;
  Result<std::vector<std::string>> label_names(std::string_view tenant,
                                               std::span<const query::LabelMatcher> matchers,
                                               std::int64_t start_ms, std::int64_t end_ms) override;
  std::int64_t resolution_ms(std::int64_t step_ms) const override;

 private:
  Result<std::vector<query::Labels>> select(std::string_view tenant,
                                            std::span<const query::LabelMatcher> matchers,
                                            std::size_t limit);
  store::Store& store_;
};

// The label set of a stored series: __name__ plus its tags, sorted.
query::Labels labels_of(const wire::SeriesKey& key);

}  // namespace edgesketch::collector
