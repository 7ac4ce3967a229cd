// Shared helpers of the simulator's host tests: run a simulation in-process into a record file
// and capture what it sent.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "edgesketch/common/status.h"
#include "sim_options.h"
#include "sim_runner.h"
#include "transport.h"

namespace edgesketch::sim::test {

// Keeps every payload in send order, with its topic (the levels after the prefix).
class CapturingTransport final : public Transport {
 public:
  struct Sent {
    std::string topic;
    std::string payload;
  };
  Status send(std::string_view topic, std::string_view payload) override {
    sent.push_back(Sent{std::string(topic), std::string(payload)});
    return Status();
  }
  Status finish() override { return Status(); }
  std::vector<Sent> sent;
};

// A small fleet that runs in milliseconds: 12 devices in 3 sites x 2 lines, standard rates,
// 20 s from 1,700,000,000,000 ms.
FleetOptions small_fleet(std::uint64_t seed = 7);

// Runs fleet/faults/run through `transport`, recording to `record_path` (when non-empty).
Result<SimStats> simulate(const FleetOptions& fleet, const FaultOptions& faults,
                          const RunOptions& run, Transport& transport,
                          const std::string& record_path);

// A path in this process's temporary directory under TMPDIR (removed at exit).
std::string temp_path(const std::string& name);

std::string read_file(const std::string& path);

}  // namespace edgesketch::sim::test
