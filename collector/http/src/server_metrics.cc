// /metrics exposition of the HTTP server's counters.
#include "edgesketch/http/server_metrics.h"

#include <fmt/format.h>

namespace edgesketch::http {

void ServerMetrics::record(std::string_view handler, int code, std::string_view tenant,
                           double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[{std::string(handler), code}];
  auto& h = latency_[std::string(handler)];
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum += seconds;
  if (!tenant.empty()) ++tenant_queries_[std::string(tenant)];
}

std::string ServerMetrics::render(const query::RangeQueryCacheStats* cache,
                                  std::size_t running_queries) const {
  std::string out;
  std::lock_guard lock(mu_);
  out +=
      "# HELP edgesketch_http_requests_total HTTP API requests by handler and response code.\n"
      "# TYPE edgesketch_http_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    out += fmt::format("edgesketch_http_requests_total{{code=\"{}\",handler=\"{}\"}} {}\n",
                       key.second, key.first, n);
  }
  out +=
      "# HELP edgesketch_http_request_duration_seconds HTTP API request latency by handler.\n"
      "# TYPE edgesketch_http_request_duration_seconds histogram\n";
  for (const auto& [handler, h] : latency_) {
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
      out += fmt::format(
          "edgesketch_http_request_duration_seconds_bucket{{handler=\"{}\",le=\"{}\"}} {}\n",
          handler, kBuckets[i], h.buckets[i]);
    }
    out += fmt::format(
        "edgesketch_http_request_duration_seconds_bucket{{handler=\"{}\",le=\"+Inf\"}} {}\n",
        handler, h.count);
    out += fmt::format("edgesketch_http_request_duration_seconds_sum{{handler=\"{}\"}} {}\n",
                       handler, h.sum);
    out += fmt::format("edgesketch_http_request_duration_seconds_count{{handler=\"{}\"}} {}\n",
                       handler, h.count);
  }
  out +=
      "# HELP edgesketch_tenant_requests_total Authenticated API requests by tenant.\n"
      "# TYPE edgesketch_tenant_requests_total counter\n";
  for (const auto& [tenant, n] : tenant_queries_) {
    out += fmt::format("edgesketch_tenant_requests_total{{tenant=\"{}\"}} {}\n", tenant, n);
  }
  out +=
      "# HELP edgesketch_queries_running Queries being evaluated now.\n"
      "# TYPE edgesketch_queries_running gauge\n";
  out += fmt::format("edgesketch_queries_running {}\n", running_queries);
  if (cache != nullptr) {
    auto counter = [&](std::string_view name, std::string_view help, std::uint64_t v) {
      out += fmt::format("# HELP {} {}\n# TYPE {} counter\n{} {}\n", name, help, name, name, v);
    };
    auto gauge = [&](std::string_view name, std::string_view help, std::uint64_t v) {
      out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, help, name, name, v);
    };
    counter("edgesketch_query_cache_hits_total", "Range query extents served from the cache.",
            cache->hits);
    counter("edgesketch_query_cache_misses_total", "Range query extents evaluated.", cache->misses);
    counter("edgesketch_query_cache_rendered_hits_total",
            "Range queries answered with a stored encoded response.", cache->rendered_hits);
    counter("edgesketch_query_cache_bypassed_total",
            "Range queries not aligned to their step, evaluated without the cache.",
            cache->bypassed);
    counter("edgesketch_query_cache_evictions_total", "Extents evicted to stay within the bound.",
            cache->evictions);
    counter("edgesketch_query_cache_invalidations_total",
            "Extents dropped because new data arrived for them.", cache->invalidations);
    gauge("edgesketch_query_cache_bytes", "Estimated bytes of cached results.", cache->bytes);
    gauge("edgesketch_query_cache_entries", "Cached extents.", cache->entries);
  }
  return out;
}

}  // namespace edgesketch::http
