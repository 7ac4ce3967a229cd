// Runs a program (edgesketch-sim) for a test: argv, bounded wait, exit code, captured stderr.
#pragma once

#include <string>
#include <vector>

namespace edgesketch::sim::test {

struct ChildResult {
  int exit_code = -1;  // -1 when killed (timeout or signal)
  bool timed_out = false;
  std::string stdout_text;
  std::string stderr_text;
};

// Starts `program` with `args`, waits at most timeout_ms (then SIGKILL) and returns what it
// printed.
ChildResult run_child(const std::string& program, const std::vector<std::string>& args,
                      int timeout_ms);

}  // namespace edgesketch::sim::test
