// StreamHub: per-tenant reached window ends (with the settle delay) and stream slots.
#include "stream_hub.h"

#include <algorithm>

namespace edgesketch::http {

void StreamHub::settle(Tenant& t, SteadyTime now) {
  while (!t.pending.empty() && t.pending.front().second <= now) {
    t.reached_ms = std::max(t.reached_ms, t.pending.front().first);
    t.pending.pop_front();
  }
}

void StreamHub::applied(std::string_view tenant, std::int64_t end_ms) {
  {
    std::lock_guard lock(mu_);
    auto it = tenants_.find(tenant);
    if (it == tenants_.end()) it = tenants_.emplace(std::string(tenant), Tenant{}).first;
    Tenant& t = it->second;
    const auto now = std::chrono::steady_clock::now();
    settle(t, now);
    const std::int64_t latest = t.pending.empty() ? t.reached_ms : t.pending.back().first;
    if (end_ms <= latest) return;  // late or repeated data: no new point to send
    // Entries live for the delay: at most one per applied batch of that time.
    if (delay_.count() <= 0) {
      t.reached_ms = end_ms;
    } else {
      t.pending.emplace_back(end_ms, now + delay_);
    }
  }
  changed_.notify_all();
}

std::int64_t StreamHub::wait_ready(const std::string& tenant, std::int64_t want_ms,
                                   SteadyTime until) {
  std::unique_lock lock(mu_);
  for (;;) {
    Tenant& t = tenants_[tenant];
    const auto now = std::chrono::steady_clock::now();
    settle(t, now);
    if (stopped_ || t.reached_ms >= want_ms || now >= until) return t.reached_ms;
    // Until the next pending end is due (a notification of its own would come from nobody).
    SteadyTime wake = until;
    if (!t.pending.empty()) wake = std::min(wake, t.pending.front().second);
    changed_.wait_until(lock, wake);
  }
}

bool StreamHub::acquire(const std::string& tenant, std::size_t per_tenant, std::size_t total) {
  std::lock_guard lock(mu_);
  Tenant& t = tenants_[tenant];
  if (stopped_ || t.streams >= per_tenant || streams_ >= total) return false;
  ++t.streams;
  ++streams_;
  return true;
}

void StreamHub::release(const std::string& tenant) {
  std::lock_guard lock(mu_);
  --tenants_[tenant].streams;
  --streams_;
}

std::size_t StreamHub::open_streams() const {
  std::lock_guard lock(mu_);
  return streams_;
}

void StreamHub::stop() {
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }
  changed_.notify_all();
}

bool StreamHub::stopped() const {
  std::lock_guard lock(mu_);
  return stopped_;
}

}  // namespace edgesketch::http
