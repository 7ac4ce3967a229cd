// RuleHandoff (rule_handoff.h).
#include "app/rule_handoff.h"

namespace edgesketch::agent {

Status RuleHandoff::offer(RuleReload reload, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  pending_ = std::move(reload);
  result_.reset();
  if (!cv_.wait_for(lock, timeout, [&] { return result_.has_value(); })) {
    return Status::unavailable(
        "the aggregator has not taken the new rules yet; they apply when "
        "it does");
  }
  return *result_;
}

void RuleHandoff::apply_pending(const std::function<Status(RuleReload)>& apply) {
  std::lock_guard lock(mu_);
  if (!pending_) return;
  Status s = apply(std::move(*pending_));
  pending_.reset();
  result_ = std::move(s);
  cv_.notify_all();
}

}  // namespace edgesketch::agent
