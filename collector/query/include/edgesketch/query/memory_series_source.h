// MemorySeriesSource: a SeriesSource holding windows in memory, for tests and examples.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "edgesketch/query/series_source.h"

namespace edgesketch::query {

// Thread-safe (one mutex guards all data).
class MemorySeriesSource final : public SeriesSource {
 public:
  // Adds the window [window_start_ms, window_start_ms + window_ms) of the series `labels`
  // (which must hold `__name__`) for `tenant`; the same window (same start and width) already
  // present is merged with it. Windows of different widths may coexist; scan() buckets each by
  // its end (series_source.h). kInvalidArgument without a metric name or with window_ms <= 0;
  // merge errors otherwise.
  Status add(std::string_view tenant, Labels labels, std::int64_t window_start_ms,
             std::int64_t window_ms, const sketch::WindowAggregate& agg);

  Result<std::vector<SeriesRows>> scan(std::string_view tenant, const ScanRequest& req) override;
  Result<std::vector<Labels>> series(std::string_view tenant,
                                     std::span<const LabelMatcher> matchers, std::int64_t start_ms,
                                     std::int64_t end_ms, std::size_t limit) override;
  Result<std::vector<std::string>> label_values(std::string_view tenant, std::string_view name,
                                                std::span<const LabelMatcher> matchers,
                                                std::int64_t start_ms,
                                                std::int64_t end_ms) override;
  Result<std::vector<std::string>> label_names(std::string_view tenant,
                                               std::span<const LabelMatcher> matchers,
                                               std::int64_t start_ms, std::int64_t end_ms) override;

 private:
  // A window as (end, start): ordered by end, the time that decides its step bucket.
  using WindowSpan = std::pair<std::int64_t, std::int64_t>;
  struct Series {
    Labels labels;
    std::map<WindowSpan, sketch::WindowAggregate> windows;  // (end, start) -> aggregate
  };
  using TenantData = std::map<std::string, Series>;  // labels_key -> series

  // Series of `tenant` matching `matchers` with a window overlapping [start_ms, end_ms].
  std::vector<const Series*> select(std::string_view tenant, std::span<const LabelMatcher> matchers,
                                    std::int64_t start_ms, std::int64_t end_ms) const;

  mutable std::mutex mu_;
  std::map<std::string, TenantData, std::less<>> tenants_;  // guarded by mu_
};

}  // namespace edgesketch::query
