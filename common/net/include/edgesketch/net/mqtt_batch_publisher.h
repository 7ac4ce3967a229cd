// MqttBatchPublisher: QoS 0 publishing over edgesketch's own MQTT 3.1.1 codec
// (net/mqtt_codec.h), many PUBLISH packets per send(): the cheap way to send many small
// messages (edgesketch-sim's devices). No thread of its own: publish() queues and writes a full
// queue, flush() writes the rest, sends PINGREQ when the connection has been idle for half the
// keep-alive, and reads (and checks) what the broker sent.
//
// Delivery: QoS 0, at most once. A message publish() accepted is on its way once the queue is
// written (at batch_bytes, flush(), close()); a connection lost before that loses the messages
// still queued, as the kernel's socket buffer would lose written ones.
//
// Not thread-safe: one thread publishes.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/net/mqtt_connection.h"

namespace edgesketch::net {

class BrokerStream;

struct MqttBatchPublisherOptions {
  // Broker, client id, credentials, TLS, keep-alive, connect timeout (backoff is not used:
  // the caller decides when to connect again).
  MqttConnection connection;
  // The queue is written once it holds this many bytes.
  std::size_t batch_bytes = 64 * 1024;
  // Bound on one write of the queue.
  int write_timeout_ms = 5000;
};

class MqttBatchPublisher {
 public:
  // Connects and waits for CONNACK (within connection.connect_timeout_ms). kUnavailable when
  // the broker cannot be reached or refuses (its reason included); kInvalidArgument for a bad
  // URI or an empty client id.
  static Result<std::unique_ptr<MqttBatchPublisher>> connect(MqttBatchPublisherOptions options);
  ~MqttBatchPublisher();  // close()
  MqttBatchPublisher(const MqttBatchPublisher&) = delete;
  MqttBatchPublisher& operator=(const MqttBatchPublisher&) = delete;

  // Queues a QoS 0 PUBLISH. kInvalidArgument for a bad topic (nothing queued); kUnavailable
  // when writing the full queue failed: the connection is closed and the queue dropped.
  Status publish(std::string_view topic, ByteSpan payload);
  // Writes the queue; see the top of the file. kUnavailable (connection closed) on failure.
  Status flush();
  // Writes the queue, sends DISCONNECT and closes. Idempotent.
  Status close();

  bool connected() const { return stream_ != nullptr; }

 private:
  MqttBatchPublisher(MqttBatchPublisherOptions options, std::unique_ptr<BrokerStream> stream);
  Status write_queue();
  Status read_answers();
  Status fail(Status s);

  const MqttBatchPublisherOptions options_;
  std::unique_ptr<BrokerStream> stream_;
  Bytes queue_;
  Bytes in_;
  std::chrono::steady_clock::time_point last_write_;
  bool ping_outstanding_ = false;
  std::chrono::steady_clock::time_point ping_sent_;
};

}  // namespace edgesketch::net
