// Daemon scaffolding shared by edgesketch-agent and edgesketch-collector: signal handling,
// systemd notification (READY/RELOADING/STOPPING/WATCHDOG/STATUS), the main loop that ties them
// to the daemon's app (run_main_loop) and the localhost HTTP endpoint that serves /metrics.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "edgesketch/common/status.h"

namespace edgesketch::daemon {

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread and every thread started after it (call
// first thing in main), and receives them synchronously with wait(). SIGPIPE is ignored.
class Signals {
 public:
  Signals();
  // The signal received within `timeout` (SIGTERM, SIGINT or SIGHUP), or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
};

// systemd's notify protocol (sd_notify(3)). Every call is a no-op when NOTIFY_SOCKET is unset,
// so the daemons run the same under systemd, in a shell and in tests.
class Notifier {
 public:
  Notifier();
  bool enabled() const { return enabled_; }
  void ready(const std::string& status = {});
  void stopping();
  void reloading();
  void status(const std::string& status);
  // Pets the watchdog; call at least every watchdog_interval() / 2 from the main loop, and only
  // while the daemon's threads are healthy.
  void watchdog();
  // WatchdogSec= of the unit, when the watchdog is enabled for this process.
  std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_; }

 private:
  void send(const std::string& message);
  bool enabled_ = false;
  std::optional<std::chrono::microseconds> watchdog_;
};

// What run_main_loop() calls, on the main thread.
struct MainLoopHooks {
  // STATUS= sent with READY=1, at the start and after each reload ("running", "serving").
  std::string ready_status;
  // SIGHUP: re-reads what the daemon can change at run time. nullptr: SIGHUP only re-sends
  // READY=1. Errors are the hook's to log and count; the loop goes on.
  std::function<void()> reload;
  // Whether the daemon's threads make progress: the watchdog is petted only while this is
  // true. nullptr: always.
  std::function<bool()> healthy;
  // Logged (error) at every tick while healthy() is false, e.g. "the aggregator thread is stuck".
  std::string unhealthy_message = "a thread of the daemon is stuck";
};

// The main loop both daemons run once their app has started, on the thread that created
// `signals` (before any other thread started, so the signals are blocked everywhere):
//   READY=1 (with STATUS=ready_status);
//   SIGHUP: RELOADING=1, hooks.reload(), READY=1;
//   every watchdog_interval() / 3 (at most every second), and after each SIGHUP: WATCHDOG=1
//   while hooks.healthy(), else an error log line and no WATCHDOG=1 (systemd restarts a daemon
//   whose threads stay stuck past WatchdogSec);
//   SIGTERM or SIGINT: STOPPING=1, and returns that signal. The caller then stops its app.
int run_main_loop(Signals& signals, Notifier& notifier, const MainLoopHooks& hooks);

// A small HTTP server on a loopback address serving the text `render()` returns at /metrics (and
// 200 "OK" at /-/healthy). Its own thread; stop() or the destructor stops it.
class MetricsServer {
 public:
  ~MetricsServer();
  // `listen` is "HOST:PORT" (port 0: any free port; see port()). Fails with a clear message when
  // the address cannot be bound.
  static Result<std::unique_ptr<MetricsServer>> start(const std::string& listen,
                                                      std::function<std::string()> render);
  int port() const { return port_; }
  void stop();

 private:
  MetricsServer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  int port_ = 0;
};

// glibc malloc settings for a daemon whose requests allocate and free large working sets (the
// collector's scans: a cell per series and step, then the answer): up to `retain_bytes` of freed
// heap stays mapped instead of going back to the kernel (M_TRIM_THRESHOLD), so the next query
// does not fault its pages in again, and blocks below 32 MiB come from the heap rather than from
// their own mmap (M_MMAP_THRESHOLD; a fixed value also stops glibc's own adjustment).
// `arenas` > 0 caps malloc's arenas (M_ARENA_MAX): each arena keeps its own freed memory, so
// fewer arenas reuse more of it. The RSS then stays near its high-water mark, bounded by the
// working sets plus retain_bytes. Call first thing in main, before any thread starts. Returns
// false when glibc refused a setting (nothing else happens then).
bool tune_allocator(std::size_t retain_bytes, int arenas);

// Splits "HOST:PORT" ("[::1]:9781" for IPv6); InvalidArgument naming the input otherwise.
Result<std::pair<std::string, int>> parse_listen_address(const std::string& listen);

}  // namespace edgesketch::daemon
