// The simulator run in process, for the suites that need device traffic: the sim suite's loop
// figures and the agent suite's uplink and parser figures.
#pragma once

#include <cstdint>

#include "edgesketch/common/status.h"
#include "record_writer.h"
#include "sim_options.h"
#include "sim_runner.h"
#include "transport.h"

namespace edgesketch::bench {

// The standard fleet (DESIGN.md) from `start_ms` over `duration_ms` of simulated time.
sim::FleetOptions standard_fleet(std::int64_t start_ms, std::int64_t duration_ms);

// Runs `fleet` as fast as it goes, without faults or progress lines, sending `format` payloads
// to `transport` (and recording them when `record` is not null).
Result<sim::SimStats> simulate(const sim::FleetOptions& fleet, sim::Transport& transport,
                               sim::RecordWriter* record = nullptr, sim::SimFormat format = {});

}  // namespace edgesketch::bench
