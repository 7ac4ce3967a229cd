// The simulator run in process (simulation.h).
#include "simulation.h"

#include <atomic>

#include "edgesketch/common/clock.h"
#include "fault_injector.h"
#include "fleet.h"

namespace edgesketch::bench {

sim::FleetOptions standard_fleet(std::int64_t start_ms, std::int64_t duration_ms) {
  sim::FleetOptions fleet = sim::standard_fleet();
  fleet.start_ms = start_ms;
  fleet.duration_ms = duration_ms;
  return fleet;
}

Result<sim::SimStats> simulate(const sim::FleetOptions& fleet, sim::Transport& transport,
                               sim::RecordWriter* record, sim::SimFormat format) {
  sim::RunOptions run;
  run.speed = 0;
  run.progress_interval_ms = 0;
  run.format = format;
  sim::FaultInjector faults({}, fleet.seed, fleet.devices);
  ES_ASSIGN_OR_RETURN(auto f, sim::Fleet::create(fleet, faults.clock_skews_ms()));
  SystemClock wall;
  std::atomic<bool> stop{false};
  sim::SimRunner runner(*f, faults, run, transport, record, wall, &stop, nullptr);
  return runner.run();
}

}  // namespace edgesketch::bench
