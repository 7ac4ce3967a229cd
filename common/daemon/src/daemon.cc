#include "edgesketch/daemon/daemon.h"

#include <httplib.h>
#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <optional>
#include <utility>

#include "edgesketch/common/host_port.h"

namespace edgesketch::daemon {

// ---- allocator ----

bool tune_allocator(std::size_t retain_bytes, int arenas) {
  const auto retain =
      static_cast<int>(std::min<std::size_t>(retain_bytes, std::numeric_limits<int>::max()));
  bool ok = mallopt(M_MMAP_THRESHOLD, 32 << 20) == 1;
  ok = mallopt(M_TRIM_THRESHOLD, retain) == 1 && ok;
  if (arenas > 0) ok = mallopt(M_ARENA_MAX, arenas) == 1 && ok;
  return ok;
}

// ---- signals ----

Signals::Signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

std::optional<int> Signals::wait(std::chrono::milliseconds timeout) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  const auto ms = timeout.count() < 0 ? 0 : timeout.count();
  timespec ts{static_cast<time_t>(ms / 1000), static_cast<long>((ms % 1000) * 1'000'000)};
  for (;;) {
    const int sig = sigtimedwait(&set, nullptr, &ts);
    if (sig > 0) return sig;
    if (errno == EINTR) continue;
    return std::nullopt;  // EAGAIN: timeout
  }
}

// ---- systemd notify ----

Notifier::Notifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && socket[0] != '\0';
  std::uint64_t usec = 0;
  if (enabled_ && sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_ = std::chrono::microseconds(usec);
  }
}

void Notifier::send(const std::string& message) {
  if (!enabled_) return;
  sd_notify(0, message.c_str());
}

void Notifier::ready(const std::string& status) {
  send(status.empty() ? "READY=1" : "READY=1\nSTATUS=" + status);
}
void Notifier::stopping() { send("STOPPING=1"); }
void Notifier::reloading() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const auto usec = static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000 +
                    static_cast<std::uint64_t>(ts.tv_nsec) / 1000;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}
void Notifier::status(const std::string& status) { send("STATUS=" + status); }
void Notifier::watchdog() { send("WATCHDOG=1"); }

// ---- main loop ----

int run_main_loop(Signals& signals, Notifier& notifier, const MainLoopHooks& hooks) {
  notifier.ready(hooks.ready_status);
  constexpr std::chrono::milliseconds kMaxTick(1000);
  const auto tick = notifier.watchdog_interval()
                        ? std::min(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       *notifier.watchdog_interval() / 3),
                                   kMaxTick)
                        : kMaxTick;
  for (;;) {
    const auto sig = signals.wait(tick);
    if (sig == SIGTERM || sig == SIGINT) {
      notifier.stopping();
      return *sig;
    }
    if (sig == SIGHUP) {
      notifier.reloading();
      if (hooks.reload) hooks.reload();
      notifier.ready(hooks.ready_status);
    }
    if (!hooks.healthy || hooks.healthy()) {
      notifier.watchdog();
    } else {
      spdlog::error("{}; not petting the watchdog", hooks.unhealthy_message);
    }
  }
}

// ---- metrics endpoint ----

Result<std::pair<std::string, int>> parse_listen_address(const std::string& listen) {
  std::optional<HostPort> address = parse_host_port(listen);
  if (!address) {
    return Status::invalid_argument("listen address '" + listen +
                                    "' is not HOST:PORT (e.g. 127.0.0.1:9781)");
  }
  return std::make_pair(std::move(address->host), address->port);
}

struct MetricsServer::Impl {
  httplib::Server server;
};

MetricsServer::~MetricsServer() { stop(); }

Result<std::unique_ptr<MetricsServer>> MetricsServer::start(const std::string& listen,
                                                            std::function<std::string()> render) {
  auto addr = parse_listen_address(listen);
  if (!addr.ok()) return addr.status();
  std::unique_ptr<MetricsServer> s(new MetricsServer());
  s->impl_ = std::make_unique<Impl>();
  httplib::Server& server = s->impl_->server;
  // httplib's default sets SO_REUSEPORT, which would let a second daemon bind the same port and
  // silently take half the scrapes. SO_REUSEADDR alone still allows a quick restart.
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server.Get("/metrics", [render](const httplib::Request&, httplib::Response& res) {
    res.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server.Get("/-/healthy", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("OK\n", "text/plain");
  });
  const auto& [host, port] = *addr;
  if (port == 0) {
    s->port_ = server.bind_to_any_port(host);
  } else {
    s->port_ = server.bind_to_port(host, port) ? port : -1;
  }
  if (s->port_ <= 0) {
    return Status::unavailable("cannot listen on " + listen + " for /metrics (address in use?)");
  }
  s->thread_ = std::thread([&server] { server.listen_after_bind(); });
  // stop() only stops a server that is running: wait until it is, so stop() never races it.
  while (!server.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return s;
}

void MetricsServer::stop() {
  if (impl_) impl_->server.stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace edgesketch::daemon
