// edgesketch-sim: parses flags, installs signal handlers, runs the chosen command.
#include <signal.h>
#include <unistd.h>

#include <atomic>

#include "cli.h"
#include "sim_app.h"

namespace {

// The only global: a signal handler can reach nothing else. Lock-free, so safe to store to.
std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop.store(true); }

}  // namespace

int main(int argc, char** argv) {
  edgesketch::SystemClock clock;
  edgesketch::sim::CliOutcome cli =
      edgesketch::sim::parse_command_line(argc, argv, clock.now_ms(), static_cast<int>(getpid()));
  if (!cli.command) return cli.exit_code;

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  if (auto* sim = std::get_if<edgesketch::sim::SimCommand>(&*cli.command)) {
    return edgesketch::sim::run_simulation(*sim, clock, g_stop);
  }
  if (auto* exporter = std::get_if<edgesketch::sim::ExportCommand>(&*cli.command)) {
    return edgesketch::sim::run_export(*exporter, clock);
  }
  return edgesketch::sim::run_truth(std::get<edgesketch::sim::TruthCommand>(*cli.command), clock);
}
