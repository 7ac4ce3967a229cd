// Reconnect delays: exponential backoff with jitter, shared by every network edge of the agent
// (uplink forwarder, MQTT inputs, HTTP fallback).
#pragma once

#include <cstdint>
#include <random>

namespace edgesketch::net {

struct BackoffOptions {
  // Delay after the first failure, milliseconds.
  std::int64_t min_ms = 500;
  // Upper bound of the un-jittered delay, milliseconds.
  std::int64_t max_ms = 30'000;
  // Each delay is spread uniformly over [d * (1 - jitter), d * (1 + jitter)] so that many
  // gateways losing one broker do not reconnect in lockstep. 0 <= jitter <= 1.
  double jitter = 0.2;
  // Seed of the jitter's generator; 0 = seeded from std::random_device. Tests pass a fixed one.
  std::uint64_t seed = 0;
};

// Not thread-safe: owned by the thread that reconnects.
class Backoff {
 public:
  explicit Backoff(const BackoffOptions& options);

  // The delay before the next attempt: min_ms * 2^failures, capped at max_ms, jittered.
  // Counts one more failure.
  std::int64_t next_delay_ms();
  // A success: the next delay starts again at min_ms.
  void reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  BackoffOptions options_;
  std::mt19937_64 rng_;
  int failures_ = 0;
};

}  // namespace edgesketch::net
