// Clocks passed into every component that reads time, so tests can inject a fake one.
#pragma once

#include <atomic>
#include <cstdint>

namespace edgesketch {

// Thread-safe: implementations may be read from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, Unix epoch milliseconds (may jump when the system clock is set).
  virtual std::int64_t now_ms() const = 0;
  // Monotonic nanoseconds since an arbitrary origin; never goes backwards.
  virtual std::int64_t monotonic_ns() const = 0;
};

// The operating system's CLOCK_REALTIME and CLOCK_MONOTONIC.
class SystemClock final : public Clock {
 public:
  std::int64_t now_ms() const override;
  std::int64_t monotonic_ns() const override;
};

// A clock that moves only when told. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(std::int64_t now_ms = 1'700'000'000'000, std::int64_t monotonic_ns = 0)
      : now_ms_(now_ms), mono_ns_(monotonic_ns) {}
  std::int64_t now_ms() const override { return now_ms_.load(std::memory_order_relaxed); }
  std::int64_t monotonic_ns() const override { return mono_ns_.load(std::memory_order_relaxed); }
  void set_now_ms(std::int64_t ms) { now_ms_.store(ms, std::memory_order_relaxed); }
  // Moves both clocks forward by `ms`.
  void advance_ms(std::int64_t ms) {
    now_ms_.fetch_add(ms, std::memory_order_relaxed);
    mono_ns_.fetch_add(ms * 1'000'000, std::memory_order_relaxed);
  }

 private:
  std::atomic<std::int64_t> now_ms_;
  std::atomic<std::int64_t> mono_ns_;
};

}  // namespace edgesketch
