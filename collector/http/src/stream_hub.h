// StreamHub: what the live streams (GET /api/v1/stream) wait on: per tenant, how far ingest has
// brought the data (the largest window end applied) and when, and the streams' slots.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace edgesketch::http {

// Thread-safe: applied() is called by the ingest path (any thread), the streams' workers wait in
// wait_ready(). One mutex guards the per-tenant state and the slot counts.
class StreamHub {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  // `delay`: a window end counts as reached only `delay` after the batch that brought it was
  // applied, so that the other gateways' windows of the same time, a moment behind, are in the
  // point when it is sent.
  explicit StreamHub(std::chrono::milliseconds delay) : delay_(delay) {}

  // Ingest applied data of `tenant` whose windows end at most at `end_ms`; wakes the tenant's
  // streams (after the delay).
  void applied(std::string_view tenant, std::int64_t end_ms);

  // Blocks until the tenant's reached window end is at least `want_ms`, until `until`, or until
  // stop(); returns the reached end (std::int64_t min when nothing was applied yet).
  std::int64_t wait_ready(const std::string& tenant, std::int64_t want_ms, SteadyTime until);

  // Takes one of the tenant's stream slots: false when it holds `per_tenant` already or all
  // tenants together hold `total`.
  bool acquire(const std::string& tenant, std::size_t per_tenant, std::size_t total);
  void release(const std::string& tenant);
  std::size_t open_streams() const;

  // Wakes every waiting stream for good (server stop): wait_ready() returns at once from now on.
  void stop();
  bool stopped() const;

 private:
  struct Tenant {
    // (window end, time it counts as reached), increasing in both; the front is reached.
    std::deque<std::pair<std::int64_t, SteadyTime>> pending;
    std::int64_t reached_ms = INT64_MIN;
    std::size_t streams = 0;
  };
  // Moves the pending ends whose time has come into reached_ms. Needs mu_.
  static void settle(Tenant& t, SteadyTime now);

  const std::chrono::milliseconds delay_;
  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::map<std::string, Tenant, std::less<>> tenants_;  // guarded by mu_
  std::size_t streams_ = 0;                             // guarded by mu_
  bool stopped_ = false;                                // guarded by mu_
};

}  // namespace edgesketch::http
