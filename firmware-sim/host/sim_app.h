// The programs behind edgesketch-sim's command line: a simulation run, a truth
// computation and an export. Each returns the process exit code (0 ok, 1 runtime failure)
// and reports on stderr.
#pragma once

#include <atomic>

#include "cli.h"
#include "edgesketch/common/clock.h"

namespace edgesketch::sim {

// Builds the fleet, fault injector, transport and record writer, runs the simulation and prints
// the summary. `stop` ends the run early (flushing what is pending).
int run_simulation(const SimCommand& command, const Clock& clock, const std::atomic<bool>& stop);

int run_truth(const TruthCommand& command, const Clock& clock);

// `edgesketch-sim export`: 0, or 1 after printing the error.
int run_export(const ExportCommand& command, const Clock& clock);

}  // namespace edgesketch::sim
