// Backoff: doubling from min_ms to max_ms, then a uniform jitter around the delay.
#include "edgesketch/net/backoff.h"

#include <algorithm>

namespace edgesketch::net {

Backoff::Backoff(const BackoffOptions& options)
    : options_(options), rng_(options.seed != 0 ? options.seed : std::random_device{}()) {
  options_.min_ms = std::max<std::int64_t>(1, options_.min_ms);
  options_.max_ms = std::max(options_.min_ms, options_.max_ms);
  options_.jitter = std::clamp(options_.jitter, 0.0, 1.0);
}

std::int64_t Backoff::next_delay_ms() {
  std::int64_t delay = options_.min_ms;
  for (int i = 0; i < failures_ && delay < options_.max_ms; ++i) delay *= 2;
  delay = std::min(delay, options_.max_ms);
  if (failures_ < 64) ++failures_;
  if (options_.jitter <= 0) return delay;
  std::uniform_real_distribution<double> u(1.0 - options_.jitter, 1.0 + options_.jitter);
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(static_cast<double>(delay) * u(rng_)));
}

}  // namespace edgesketch::net
