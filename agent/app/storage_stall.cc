// StorageStall: episode bookkeeping behind the stall gauge, counter and log lines.
#include "app/storage_stall.h"

#include <spdlog/spdlog.h>

namespace edgesketch::agent {

StorageStall::StorageStall(std::string component, daemon::MetricsRegistry& metrics)
    : component_(std::move(component)) {
  const daemon::Labels l = {{"component", component_}};
  episodes_ = &metrics.counter("edgesketch_agent_storage_stalls_total",
                               "Episodes in which a storage component could not write", l);
  metrics.gauge_fn("edgesketch_agent_storage_stalled",
                   "1 while a storage component cannot write (its data is held and retried)", l,
                   [this] { return stalled() ? 1.0 : 0.0; });
}

void StorageStall::failed(unsigned site, const Status& error) {
  std::lock_guard lock(mu_);
  ++attempts_;
  const std::uint32_t before = failing_.load(std::memory_order_relaxed);
  failing_.store(before | (1u << site), std::memory_order_release);
  if (before != 0) return;
  since_ = std::chrono::steady_clock::now();
  attempts_ = 1;
  episodes_->inc();
  spdlog::error("{} stalled: {}; holding its data and retrying until it works again", component_,
                error.to_string());
}

void StorageStall::cleared(unsigned site) {
  if (!failing(site)) return;
  std::lock_guard lock(mu_);
  const std::uint32_t before = failing_.load(std::memory_order_relaxed);
  const std::uint32_t after = before & ~(1u << site);
  failing_.store(after, std::memory_order_release);
  if (before == 0 || after != 0) return;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - since_)
                      .count();
  spdlog::info("{} writes again after {} ms ({} failed attempts); resuming", component_, ms,
               attempts_);
}

}  // namespace edgesketch::agent
