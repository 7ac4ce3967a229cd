// MqttInput: subscribes to device topics on the gateway's local broker (Paho C++, persistent
// session) and hands every message to an InputSink, synchronously on Paho's receive thread.
//
// Acknowledgement (QoS 1): Paho MQTT C 1.3 sends the PUBACK of an incoming QoS 1 PUBLISH as
// soon as it has read the packet, *before* the message reaches the callback
// (MQTTProtocol_handlePublishes: "send puback before processing the publications"); neither
// Paho C nor Paho C++ 1.2 has a manual-ack API. So the broker may consider a message delivered
// while the sink is still running. What the agent relies on instead:
//  - the sink runs on Paho's receive thread, which reads nothing more from the socket until
//    the sink returns: at most the one message inside the sink is PUBACKed and not yet taken,
//    and the broker holds back the rest (its queue for our persistent session);
//  - the app's sink appends the payload to the reading journal first (a write(), microseconds)
//    and only then blocks on the ring. A process crash therefore loses at most a message
//    whose sink had not reached the journal write; see docs/agent.md, "Inputs".
//
// The sink gets the message's DUP flag: only a message flagged DUP can be a redelivery of one
// the agent already has (MQTT 3.1.1 [MQTT-3.3.1-1]).
//
// Reconnects with backoff and jitter and resubscribes after every connect (net/mqtt_link.h).
// Thread-safety: start/stop from one controlling thread; stats() from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "edgesketch/common/status.h"
#include "edgesketch/net/mqtt_link.h"
#include "input/input_counters.h"
#include "input/input_sink.h"

namespace edgesketch::agent {

struct MqttInputOptions {
  // Names the input in logs and metrics.
  std::string name = "mqtt";
  // The local broker: uri, client id (stable and unique on the broker: the persistent session
  // is kept under it), credentials, TLS, reconnect delays.
  net::MqttConnection connection{.client_id = "edgesketch-agent-input"};
  // Topic filters (wildcards allowed), all subscribed with `qos`.
  std::vector<std::string> topics = {"devices/+/readings"};
  int qos = 1;
  // Payloads larger than this are not handed to the sink; counted as oversize.
  std::size_t max_payload_bytes = std::size_t{1} << 20;
  // While it points to true ([privacy] on: a topic may name a device or a tag value), log lines
  // name no topic. Must outlive the input; null: topics are logged.
  const std::atomic<bool>* withhold_topics = nullptr;
};

// received and bytes: MQTT messages and their payload bytes; oversize: above max_payload_bytes.
struct MqttInputStats : InputCounts {
  bool connected = false;
  net::MqttLinkStats link;
};

class MqttInput {
 public:
  // kInvalidArgument for bad options (no topic, qos not 0/1, empty client id, bad uri).
  static Result<std::unique_ptr<MqttInput>> create(MqttInputOptions options, InputSink sink);
  ~MqttInput();  // stop()
  MqttInput(const MqttInput&) = delete;
  MqttInput& operator=(const MqttInput&) = delete;

  // Starts connecting (returns at once; stats().connected tells when it is up).
  void start();
  // Disconnects and joins; bounded as net::MqttLink::stop(), provided the sink returns.
  void stop();

  MqttInputStats stats() const;

 private:
  MqttInput(MqttInputOptions options, InputSink sink);
  void on_message(const std::string& topic, ByteSpan payload, bool dup);

  const MqttInputOptions options_;
  InputSink sink_;
  std::unique_ptr<net::MqttLink> link_;
  InputCounters counters_;
};

}  // namespace edgesketch::agent
