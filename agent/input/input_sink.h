// InputSink: where the agent's input transports hand every received payload.
#pragma once

#include <functional>
#include <string_view>

#include "edgesketch/common/byte_coding.h"

namespace edgesketch::agent {

// Called once per received payload, synchronously on the input's receiving thread. `topic` is
// the MQTT topic, or for UDP the sender as "udp://ADDR:PORT". `dup` is the MQTT DUP flag: the
// broker delivered this message before without getting its PUBACK (always false for UDP and for
// a message never delivered before). The views are valid only during the call. The sink may block
// (that is the inputs' backpressure); it returns false when it did not accept the payload (the
// input counts it as rejected). It must not throw; an exception is caught and counted, never
// propagated into the transport.
using InputSink = std::function<bool(std::string_view topic, ByteSpan payload, bool dup)>;

}  // namespace edgesketch::agent
