// Where edgesketch-sim sends messages: an MQTT broker, a UDP socket, or nowhere (--dry-run).
#pragma once

#include <cstdint>
#include <string_view>

#include "edgesketch/common/status.h"

namespace edgesketch::sim {

// Used by one thread (the simulation loop).
class Transport {
 public:
  virtual ~Transport() = default;
  // Sends one message on `topic`, the topic's levels after the prefix ("dev-0001/readings";
  // payload_format.h says which per format; UDP has no topic). OK means the bytes left through
  // the transport (QoS 0: written to the socket; QoS 1: accepted for delivery; UDP: datagram
  // sent); only then does the simulator record the message. UNAVAILABLE while the peer cannot
  // be reached.
  virtual Status send(std::string_view topic, std::string_view payload) = 0;
  // Writes out what send() queued (a transport that batches messages); called before the
  // simulator sleeps. UNAVAILABLE when the peer cannot be reached.
  virtual Status flush() { return Status(); }
  // Waits (bounded) for what is still in flight and closes the connection.
  virtual Status finish() = 0;
};

// Drops every message (benchmarks of the generator, record-only runs).
class NullTransport final : public Transport {
 public:
  Status send(std::string_view, std::string_view) override { return Status(); }
  Status finish() override { return Status(); }
};

}  // namespace edgesketch::sim
