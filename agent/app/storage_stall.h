// StorageStall: how the agent reports a storage component (journal, outbox) that cannot write.
//
// A write site (e.g. the journal's append, its fsync) that fails calls failed(); one that works
// again calls cleared(). The component is stalled while any of its sites is failing. Each stall
// is one episode: the gauge edgesketch_agent_storage_stalled{component} is 1 while it lasts,
// edgesketch_agent_storage_stalls_total{component} counts episodes, and exactly one log line
// marks its start (with the first error) and one its end (with its length and the number of
// failed attempts), however many retries it takes.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "edgesketch/common/status.h"
#include "edgesketch/daemon/metrics.h"

namespace edgesketch::agent {

class StorageStall {
 public:
  // Registers the gauge and the counter for `component` ("journal", "outbox") in `metrics`,
  // which must outlive this object.
  StorageStall(std::string component, daemon::MetricsRegistry& metrics);

  // Site `site` (a small integer, 0..31, the caller's numbering) failed with `error`.
  void failed(unsigned site, const Status& error);
  // Site `site` works (again). Cheap when it was not failing.
  void cleared(unsigned site);

  bool stalled() const { return failing_.load(std::memory_order_acquire) != 0; }
  bool failing(unsigned site) const {
    return (failing_.load(std::memory_order_acquire) & (1u << site)) != 0;
  }
  std::uint64_t episodes() const { return episodes_->value(); }

 private:
  const std::string component_;
  daemon::Counter* episodes_;
  std::mutex mu_;  // guards since_, attempts_ and the transitions of failing_
  std::atomic<std::uint32_t> failing_{0};
  std::chrono::steady_clock::time_point since_{};
  std::uint64_t attempts_ = 0;  // failed attempts in this episode
};

}  // namespace edgesketch::agent
