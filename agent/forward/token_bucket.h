// TokenBucket: the backlog lane's rate cap (batches per second with a small burst).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

namespace edgesketch::agent {

// Time is passed in (monotonic nanoseconds) so tests drive it. Not thread-safe.
class TokenBucket {
 public:
  // rate_per_s <= 0 means no cap. burst (>= 1) is how many tokens may accumulate; the bucket
  // starts full.
  TokenBucket(double rate_per_s, double burst, std::int64_t now_ns)
      : rate_per_ns_(rate_per_s > 0 ? rate_per_s / 1e9 : 0),
        burst_(std::max(1.0, burst)),
        tokens_(burst_),
        last_ns_(now_ns) {}

  bool unlimited() const { return rate_per_ns_ == 0; }

  // Whole tokens available now (SIZE_MAX without a cap).
  std::size_t available(std::int64_t now_ns) {
    if (unlimited()) return std::numeric_limits<std::size_t>::max();
    refill(now_ns);
    return static_cast<std::size_t>(tokens_);
  }

  // Spends n tokens; precondition: n <= available().
  void take(std::size_t n) {
    if (!unlimited()) tokens_ -= static_cast<double>(n);
  }

  // Nanoseconds until one whole token is available (0 when one is, or without a cap).
  std::int64_t ns_until_token(std::int64_t now_ns) {
    if (unlimited()) return 0;
    refill(now_ns);
    if (tokens_ >= 1) return 0;
    return static_cast<std::int64_t>((1 - tokens_) / rate_per_ns_) + 1;
  }

 private:
  void refill(std::int64_t now_ns) {
    if (now_ns > last_ns_) {
      tokens_ = std::min(burst_, tokens_ + static_cast<double>(now_ns - last_ns_) * rate_per_ns_);
      last_ns_ = now_ns;
    }
  }

  double rate_per_ns_;
  double burst_;
  double tokens_;
  std::int64_t last_ns_;
};

}  // namespace edgesketch::agent
