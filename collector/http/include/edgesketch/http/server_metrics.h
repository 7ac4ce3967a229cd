// The HTTP server's own counters, rendered in the Prometheus text format for /metrics.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "edgesketch/query/range_query_cache.h"

namespace edgesketch::http {

// Thread-safe (one mutex guards the maps).
class ServerMetrics {
 public:
  static constexpr std::array<double, 13> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                      0.25,  0.5,    1,     2.5,  5,     10};

  // One finished request of `handler` ("/api/v1/query") with HTTP `code`, for `tenant` ("" when
  // unauthenticated), taking `seconds`.
  void record(std::string_view handler, int code, std::string_view tenant, double seconds);

  // The exposition text; cache statistics are appended when `cache` is set.
  std::string render(const query::RangeQueryCacheStats* cache, std::size_t running_queries) const;

 private:
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size()> buckets{};
    std::uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;  // (handler, code)
  std::map<std::string, Histogram> latency_;                       // handler
  std::map<std::string, std::uint64_t> tenant_queries_;            // tenant
};

}  // namespace edgesketch::http
