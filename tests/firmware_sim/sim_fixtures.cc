// Helpers of the simulator's host tests.
#include "sim_fixtures.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "edgesketch/common/clock.h"
#include "edgesketch/testbed/temp_dir.h"
#include "fault_injector.h"
#include "fleet.h"
#include "record_writer.h"

namespace edgesketch::sim::test {

FleetOptions small_fleet(std::uint64_t seed) {
  FleetOptions f;
  f.devices = 12;
  f.sites = 3;
  f.lines = 2;
  f.seed = seed;
  f.start_ms = 1'700'000'000'000;
  f.duration_ms = 20'000;
  f.batch = 50;
  return f;
}

Result<SimStats> simulate(const FleetOptions& fleet, const FaultOptions& faults,
                          const RunOptions& run, Transport& transport,
                          const std::string& record_path) {
  FaultInjector injector(faults, fleet.seed, fleet.devices);
  ES_ASSIGN_OR_RETURN(auto f, Fleet::create(fleet, injector.clock_skews_ms()));
  std::unique_ptr<RecordWriter> record;
  if (!record_path.empty()) {
    ES_ASSIGN_OR_RETURN(record, RecordWriter::create(record_path));
  }
  SystemClock clock;
  std::atomic<bool> stop{false};
  RunOptions r = run;
  r.progress_interval_ms = 0;
  SimRunner runner(*f, injector, r, transport, record.get(), clock, &stop, nullptr);
  return runner.run();
}

std::string temp_path(const std::string& name) {
  static const testbed::TempDir dir("es-simtest");
  if (dir.path().empty()) std::abort();
  return dir.file(name);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace edgesketch::sim::test
