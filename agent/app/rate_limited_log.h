// RateLimitedLog: a log call site of the agent daemon that repeats under load (bad payloads,
// drops, redeliveries, failed trims) and must not flood the journal.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

namespace edgesketch::agent {

// Logs at most one line per interval per call site; counts what it held back. Real time, whatever
// the daemon's clock. Thread-safe.
class RateLimitedLog {
 public:
  explicit RateLimitedLog(std::int64_t interval_ms) : interval_ms_(interval_ms) {}
  template <typename... Args>
  void warn(fmt::format_string<Args...> f, Args&&... args) {
    emit(spdlog::level::warn, f, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void info(fmt::format_string<Args...> f, Args&&... args) {
    emit(spdlog::level::info, f, std::forward<Args>(args)...);
  }

 private:
  template <typename... Args>
  void emit(spdlog::level::level_enum level, fmt::format_string<Args...> f, Args&&... args) {
    const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count();
    std::int64_t last = last_ms_.load(std::memory_order_relaxed);
    if (now - last < interval_ms_ || !last_ms_.compare_exchange_strong(last, now)) {
      suppressed_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const std::uint64_t held = suppressed_.exchange(0);
    std::string line = fmt::format(f, std::forward<Args>(args)...);
    if (held > 0) line += fmt::format(" ({} similar lines suppressed)", held);
    spdlog::log(level, "{}", line);
  }

  const std::int64_t interval_ms_;
  std::atomic<std::int64_t> last_ms_{-1'000'000'000};
  std::atomic<std::uint64_t> suppressed_{0};
};

}  // namespace edgesketch::agent
