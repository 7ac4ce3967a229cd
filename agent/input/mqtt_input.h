// MqttInput: subscribes to device topics on the gateway's local broker (net::MqttSubscriber,
// edgesketch's own MQTT 3.1.1 client: persistent session, TLS, reconnect with backoff and jitter,
// resubscribe after every connect) and hands every message to an InputSink, synchronously on
// the subscriber's thread.
//
// Acknowledgement (QoS 1): the PUBACK of a message is sent after the sink returned for it, i.e.
// after the app's sink appended the payload to the reading journal (or refused it for good). A
// process crash at any point before that leaves the message unacknowledged, and the broker
// delivers it again on the persistent session, flagged DUP ([MQTT-3.3.1-1]); the app's
// redelivery filter tells a journaled copy from a new message (docs/agent.md, "Inputs").
// While the sink runs, nothing more is read from the socket: the broker holds the rest in the
// session's queue (backpressure).
//
// Thread-safety: start/stop from one controlling thread; stats() from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "edgesketch/common/status.h"
#include "edgesketch/net/mqtt_subscriber.h"
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
  // Payloads larger than this are not held nor handed to the sink; counted as oversize (a QoS 1
  // one is acknowledged: it would never fit).
  std::size_t max_payload_bytes = std::size_t{1} << 20;
  // While it points to true ([privacy] on: a topic may name a device or a tag value), log lines
  // name no topic. Must outlive the input; null: topics are logged.
  const std::atomic<bool>* withhold_topics = nullptr;
};

// received and bytes: MQTT messages and their payload bytes; oversize: above max_payload_bytes.
struct MqttInputStats : InputCounts {
  bool connected = false;
  net::MqttSubscriberStats link;
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
  // Disconnects and joins; bounded as net::MqttSubscriber::stop(), provided the sink returns.
  void stop();

  MqttInputStats stats() const;
  // Connections ended for a malformed or oversized packet of this reason (net/mqtt_codec.h).
  std::uint64_t protocol_errors(net::MqttDecodeError reason) const {
    return client_->protocol_errors(reason);
  }

 private:
  MqttInput(MqttInputOptions options, InputSink sink);
  void on_message(const net::MqttMessage& m);
  void on_oversize(std::string_view topic, std::size_t payload_bytes);

  const MqttInputOptions options_;
  InputSink sink_;
  std::unique_ptr<net::MqttSubscriber> client_;
  InputCounters counters_;
};

}  // namespace edgesketch::agent
