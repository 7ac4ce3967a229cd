// AgentBrokers (support/agent_brokers.h).
#include "support/agent_brokers.h"

namespace edgesketch::test_support {

Status AgentBrokers::start() {
  testbed::MosquittoOptions mo;
  mo.extra_config = "max_queued_messages 1000000\n";
  local = std::make_unique<testbed::MosquittoBroker>(mo);
  uplink = std::make_unique<testbed::MosquittoBroker>(mo);
  ES_RETURN_IF_ERROR(local->start());
  ES_RETURN_IF_ERROR(uplink->start());
  ack = std::make_unique<AckDouble>(AckDoubleOptions{.uri = uplink->uri()});
  return ack->start();
}

void AgentBrokers::stop() {
  ack.reset();
  if (local) (void)local->stop();
  if (uplink) (void)uplink->stop();
}

}  // namespace edgesketch::test_support
