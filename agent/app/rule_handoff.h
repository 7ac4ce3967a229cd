// RuleHandoff: a SIGHUP's new rule set (and the edge processing that goes with it), from the
// main thread to the aggregator thread (which owns the aggregator), and the aggregator's verdict
// back.
//
// Thread safety: offer() from one thread (the main thread), apply_pending() from another (the
// aggregator thread's loop).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "edgesketch/common/status.h"
#include "process/edge_processor.h"
#include "window/rule.h"

namespace edgesketch::agent {

// What a SIGHUP hands over: the rules, and the edge processing built from the same file (null:
// keep the one in use).
struct RuleReload {
  std::vector<RuleSpec> rules;
  std::unique_ptr<EdgeProcessor> processor;
};

class RuleHandoff {
 public:
  // Hands `reload` over (replacing one not taken yet) and waits up to `timeout` for the verdict
  // of apply_pending(): its Status, or Unavailable when it was not taken in time (it will be).
  Status offer(RuleReload reload, std::chrono::milliseconds timeout);
  // Calls `apply` with what was offered, if anything, and reports its verdict to offer(). A
  // second offer() waits until `apply` has returned, so a verdict always answers the offer it
  // belongs to.
  void apply_pending(const std::function<Status(RuleReload)>& apply);

 private:
  std::mutex mu_;  // guards pending_, result_ (and is held while a rule set is applied)
  std::condition_variable cv_;
  std::optional<RuleReload> pending_;
  std::optional<Status> result_;  // of the last rule set taken
};

}  // namespace edgesketch::agent
