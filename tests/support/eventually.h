// Waiting in tests for what another thread or process makes true (a metric, a file, an ack).
#pragma once

#include <functional>

namespace edgesketch::test_support {

// Calls `done` every `poll_ms` until it returns true or `timeout_ms` have passed, then once more:
// its last answer.
bool eventually(const std::function<bool()>& done, int timeout_ms, int poll_ms = 20);

}  // namespace edgesketch::test_support
