// RuleHandoff: a SIGHUP's new rule set, from the main thread to the aggregator thread (which
// owns the aggregator), and the aggregator's verdict back.
//
// Thread safety: offer() from one thread (the main thread), apply_pending() from another (the
// aggregator thread's loop).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "edgesketch/common/status.h"
#include "window/rule.h"

namespace edgesketch::agent {

class RuleHandoff {
 public:
  // Hands `rules` over (replacing a set not taken yet) and waits up to `timeout` for the verdict
  // of apply_pending(): its Status, or Unavailable when the rules were not taken in time (they
  // will be).
  Status offer(std::vector<RuleSpec> rules, std::chrono::milliseconds timeout);
  // Calls `apply` with the rule set offered, if there is one, and reports its verdict to
  // offer(). A second offer() waits until `apply` has returned, so a verdict always answers the
  // offer it belongs to.
  void apply_pending(const std::function<Status(std::vector<RuleSpec>)>& apply);

 private:
  std::mutex mu_;  // guards pending_, result_ (and is held while a rule set is applied)
  std::condition_variable cv_;
  std::optional<std::vector<RuleSpec>> pending_;
  std::optional<Status> result_;  // of the last rule set taken
};

}  // namespace edgesketch::agent
