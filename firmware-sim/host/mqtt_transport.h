// Publishes each message to <topic_prefix>/<topic> over one MQTT 3.1.1 connection: QoS 0 with
// edgesketch's own batch publisher (net/mqtt_batch_publisher.h: many PUBLISH packets per
// send(), written at 64 KiB, at flush() before the simulator sleeps, and at finish()); QoS 1 with
// Paho MQTT C (synchronous client with a background thread for acks and keepalive).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "edgesketch/net/mqtt_batch_publisher.h"
#include "transport.h"

namespace edgesketch::sim {

struct MqttOptions {
  // tcp://host:port
  std::string uri = "tcp://127.0.0.1:1883";
  std::string client_id = "edgesketch-sim";
  // 0 or 1.
  int qos = 0;
  std::string topic_prefix = "devices";
  // QoS 1 messages published but not yet acknowledged before send() waits for acks (until half
  // of them are). Paho C looks each acknowledgement up in a list of the messages in flight, so a
  // larger window costs more per message than it saves in waits.
  int max_inflight = 256;
  // After a lost connection, reconnect attempts are at least this far apart.
  int reconnect_interval_ms = 1000;
  // Bound on finish(): time to wait for outstanding QoS 1 acknowledgements.
  int finish_timeout_ms = 30000;
};

// send() and finish() are called from one thread; Paho's callbacks run on its own thread and
// only touch the atomics and the condition variable below.
class MqttTransport final : public Transport {
 public:
  // Connects (5 s timeout); UNAVAILABLE when the broker does not answer.
  static Result<std::unique_ptr<MqttTransport>> connect(const MqttOptions& options);
  ~MqttTransport() override;

  Status send(std::string_view topic, std::string_view payload) override;
  Status flush() override;
  Status finish() override;

  std::uint64_t reconnects() const { return reconnects_; }

 private:
  explicit MqttTransport(MqttOptions options);
  Status open_connection();
  Status wait_for_inflight_below(std::uint64_t limit, int timeout_ms);

  static void on_connection_lost(void* context, char* cause);
  static void on_delivered(void* context, int token);

  MqttOptions options_;
  void* client_ = nullptr;                          // MQTTClient (QoS 1)
  std::unique_ptr<net::MqttBatchPublisher> batch_;  // QoS 0
  std::string topic_;
  std::int64_t last_connect_attempt_ns_ = 0;
  std::uint64_t reconnects_ = 0;
  std::uint64_t published_qos1_ = 0;  // owned by the sending thread

  // Shared with Paho's thread.
  std::atomic<bool> connected_{false};
  std::atomic<std::uint64_t> delivered_{0};
  // The delivered_ count at which on_delivered() wakes the waiting sender.
  std::atomic<std::uint64_t> wake_at_{UINT64_MAX};
  std::mutex mu_;  // guards nothing but the wait on delivered_cv_
  std::condition_variable delivered_cv_;
};

}  // namespace edgesketch::sim
