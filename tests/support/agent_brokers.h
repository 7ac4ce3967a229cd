// AgentBrokers: the MQTT side of an agent under test. `local` is the gateway's broker, where
// devices publish and the agent's inputs subscribe; `uplink` is where the agent sends its window
// batches and an AckDouble answers them as the collector does. Both brokers are real mosquittos
// on free loopback ports that queue up to 1,000,000 messages per client.
//
//   AgentBrokers brokers;
//   ASSERT_TRUE(brokers.start().ok());
//   ... an agent with an input on brokers.local->uri() and its uplink on brokers.uplink->uri() ...
//   brokers.ack->windows() ...
//
// Not thread-safe: one test thread drives it (the AckDouble itself is thread-safe).
#pragma once

#include <memory>

#include "edgesketch/common/status.h"
#include "edgesketch/testbed/mosquitto_broker.h"
#include "support/ack_double.h"

namespace edgesketch::test_support {

struct AgentBrokers {
  // Starts both brokers, then the ack double on `uplink`.
  Status start();
  // Stops the ack double, then both brokers (the destructor does the same).
  void stop();
  ~AgentBrokers() { stop(); }

  std::unique_ptr<testbed::MosquittoBroker> local;
  std::unique_ptr<testbed::MosquittoBroker> uplink;
  std::unique_ptr<AckDouble> ack;
};

}  // namespace edgesketch::test_support
