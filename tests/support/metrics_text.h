// Reading Prometheus text exposition (/metrics) in tests.
#pragma once

#include <sstream>
#include <string>

namespace edgesketch::test_support {

// The sum of the values of the lines of `text` that start with `prefix` (a metric name, or a
// name with some of its labels), 0 when there are none.
inline double metric_sum(const std::string& text, const std::string& prefix) {
  double total = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) total += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return total;
}

}  // namespace edgesketch::test_support
