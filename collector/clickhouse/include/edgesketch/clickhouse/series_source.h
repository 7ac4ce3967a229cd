// ClickHouseSeriesSource: the query engine's SeriesSource over the ClickHouse store's tables
// (schema.h), so every collector answers a query from the same data.
//
//  - Series are selected in the `series` catalog: the metric and the label matchers go into SQL
//    (`match()` is RE2 in ClickHouse as in PromQL; regexes anchored `^(?:…)$`), and every
//    series that comes back is checked again with the engine's own LabelMatcher, which is the
//    authority on PromQL's semantics.
//  - Step buckets are computed in ClickHouse from the window table read through FINAL (so a
//    redelivered batch counts once): the point at t merges the windows whose end lies in
//    (t − step, t]. Without sketches, ClickHouse also merges the scalars (sum of counts and sums,
//    min of minimums, max of maximums) per series and step; with sketches, the rows come back in
//    series and time order and es_sketch merges them.
//  - Grouped scans merge per group after the scan (query::group_rows).
//
// For now it reads the finest tier only (the rollup tiers are built by the collector later:
// docs/scaling.md), which answers every step exactly. Thread-safe: each call borrows a Client
// from a pool (Client is single-threaded).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "edgesketch/clickhouse/client.h"
#include "edgesketch/clickhouse/schema.h"
#include "edgesketch/query/series_source.h"

namespace edgesketch::clickhouse {

class ClickHouseSeriesSource : public query::SeriesSource {
 public:
  // `client` is the template of the pool's clients (created as calls need them).
  ClickHouseSeriesSource(ClientOptions client, SchemaOptions schema);
  ~ClickHouseSeriesSource() override;

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

  // The SQL condition on the `series` table that `matchers` push down (exposed for tests).
  static std::string matcher_sql(std::span<const query::LabelMatcher> matchers);

 private:
  struct Selected {
    std::uint64_t id = 0;
    query::Labels labels;
  };
  class Lease;
  Result<std::unique_ptr<Client>> borrow();
  void give_back(std::unique_ptr<Client> client);
  Result<std::vector<Selected>> select(Client& client, std::string_view tenant,
                                       std::span<const query::LabelMatcher> matchers,
                                       std::size_t limit);

  const ClientOptions client_options_;
  const SchemaOptions schema_;
  std::mutex mu_;  // guards idle_
  std::vector<std::unique_ptr<Client>> idle_;
};

}  // namespace edgesketch::clickhouse
