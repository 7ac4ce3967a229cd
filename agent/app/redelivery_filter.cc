// RedeliveryFilter (redelivery_filter.h).
#include "app/redelivery_filter.h"

#include <xxhash.h>

namespace edgesketch::agent {

std::uint64_t RedeliveryFilter::hash(std::uint8_t format, ByteSpan body) {
  return XXH3_64bits_withSeed(body.data(), body.size(), format);
}

void RedeliveryFilter::remember(std::uint8_t format, ByteSpan body) {
  recent_.push_back(hash(format, body));
  if (recent_.size() > kTail) recent_.pop_front();
}

void RedeliveryFilter::start() {
  std::lock_guard lock(mu_);
  for (std::uint64_t h : recent_) ++copies_[h];
  recent_.clear();
  until_ms_ = clock_.monotonic_ns() / 1'000'000 + kWindowMs;
  active_.store(!copies_.empty());
}

bool RedeliveryFilter::take_redelivery(std::uint8_t format, ByteSpan body) {
  if (!active_.load(std::memory_order_relaxed)) return false;
  if (clock_.monotonic_ns() / 1'000'000 > until_ms_) {
    active_.store(false);
    return false;
  }
  const std::uint64_t h = hash(format, body);
  std::lock_guard lock(mu_);
  auto it = copies_.find(h);
  if (it == copies_.end()) return false;
  if (--it->second == 0) copies_.erase(it);
  return true;
}

}  // namespace edgesketch::agent
