// The uplink broker stopped for ES_OUTAGE_SECONDS (default 30 s), then restarted on the same
// port: zero batches lost, zero duplicates after dedupe, the outbox empties. Labelled
// `integration` (it takes the outage's length plus a few seconds).
#include <gtest/gtest.h>

#include <cstdlib>

#include "agent/forwarder_harness.h"

namespace edgesketch::agent::testing {
namespace {

TEST(ForwarderOutageTest, BrokerDownThenBackLosesNothing) {
  int seconds = 30;
  if (const char* env = std::getenv("ES_OUTAGE_SECONDS")) seconds = std::atoi(env);
  run_outage_scenario(seconds > 0 ? seconds : 30);
}

}  // namespace
}  // namespace edgesketch::agent::testing
