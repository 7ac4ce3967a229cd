// What the tests of edgesketch-agent as a process share (agent_daemon_test.cc,
// agent_edge_test.cc): the agent between its two brokers with the ack double on the uplink, in a
// scratch directory kept when the test fails; running programs (edgesketch-sim) to completion;
// `edgesketch-sim truth` lines; and comparing the windows the ack double committed with them.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "edgesketch/sketch/window_aggregate.h"
#include "edgesketch/testbed/daemon_process.h"
#include "edgesketch/testbed/temp_dir.h"
#include "support/ack_double.h"
#include "support/agent_brokers.h"

namespace edgesketch::test_support {

// Milliseconds since the epoch, by the system clock.
std::int64_t now_ms();

// Runs a program (args[0]) to completion with its output in `log`; its exit status (-1 when it
// could not run or did not exit).
int run_program(const std::vector<std::string>& args, const std::string& log);

std::string read_file(const std::string& path);

// What a window holds, or a series over a run: its count, and for numeric readings its sum, min
// and max.
struct WindowTotals {
  std::uint64_t count = 0;
  bool numeric = false;
  double sum = 0, min = INFINITY, max = -INFINITY;

  // Adds `o` in (a window and its delta, the windows of a series, truth lines merged).
  void add(const WindowTotals& o);
  static WindowTotals of(const sketch::WindowAggregate& agg);
};

// `got` equals `want`: the count exactly and, when `want` is numeric, min and max exactly and the
// sum to 1e-9 relative (it adds the same values in another order). `what` names it in failures.
void expect_totals_equal(const WindowTotals& got, const WindowTotals& want,
                         const std::string& what);

using SeriesWindow = std::pair<std::string, std::int64_t>;  // series name, window start

// The windows the ack double committed for which `select` holds equal `want`, window by window:
// the same (series, window start) pairs, each with equal totals.
void expect_windows_equal(const AckDouble& ack, const std::function<bool(const WindowKey&)>& select,
                          const std::map<SeriesWindow, WindowTotals>& want);

// One line of `edgesketch-sim truth`: a window of one group.
struct TruthLine {
  std::string metric;
  std::map<std::string, std::string> group;  // tag -> value of the --group-by tags
  std::int64_t window_start_ms = 0;
  WindowTotals totals;
};

// The truth lines of `record` in 2 s windows; `flags` adds --group-by, --where, --metric...
// `dir` holds the output and the log.
std::vector<TruthLine> sim_truth(const std::string& record, const std::vector<std::string>& flags,
                                 const std::string& dir);

// The fixture: brokers_ started, metrics_port_ free, dir_ a fresh directory; start_agent() runs
// edgesketch-agent, which TearDown() kills (SIGKILL) if it still runs.
class AgentProcessTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts the agent with `config` and waits (10 s at most) until it serves /metrics and, with
  // `mqtt_input`, until its MQTT input is connected: a first session holds nothing sent before it
  // subscribed.
  void start_agent(const std::string& config, bool mqtt_input = true);

  // edgesketch-sim's command line: `devices` devices over `duration` from `start_ms` at `speed`
  // (0: as fast as it goes), `format` payloads at QoS 1 to the local broker, quiet, recording
  // what it sent in dir_/sim.rec; then `more` flags (--seed, --client-id, ...).
  std::vector<std::string> sim_command(const std::string& format, int devices,
                                       const std::string& duration, double speed,
                                       std::int64_t start_ms,
                                       const std::vector<std::string>& more) const;

  // The agent's /metrics lines starting with `prefix`, added up.
  double metric(const std::string& prefix) const;

  std::unique_ptr<testbed::TempDir> tmp_;
  std::string dir_;
  AgentBrokers brokers_;
  std::unique_ptr<testbed::DaemonProcess> agent_;
  int metrics_port_ = 0;
};

}  // namespace edgesketch::test_support
