// MqttSubscriber: edgesketch's own MQTT 3.1.1 subscriber client (net/mqtt_codec.h), for
// receiving many small messages cheaply: one thread reads as many packets per recv() as the
// socket holds and hands each PUBLISH to the handler, where Paho C reads each packet with
// several system calls and locks. Used by the agent's MQTT inputs; the uplink and the collector
// keep net::MqttLink.
//
// What it does, with the same connection settings as MqttLink (net/mqtt_connection.h):
// - persistent session by default (clean_session = false under a stable client id);
// - its thread connects (TCP, TLS over OpenSSL for ssl://, user name and password or
//   password_file read at every connect), subscribes to every filter after every connect, and
//   after a failure or a lost connection retries with exponential backoff and jitter
//   (net/backoff.h);
// - keep-alive: a PINGREQ when it has sent nothing for keepalive_s; no PINGRESP within
//   keepalive_s is a lost connection;
// - QoS 1: the PUBACK of a message is sent only after the handler returned for it (several
//   PUBACKs in one send() after a read), so a message the handler has not finished is never
//   acknowledged: if the process dies meanwhile, the broker delivers it again (flagged DUP);
// - a QoS 1 message the broker sends again (DUP) after a lost connection although this
//   subscriber had handled it (its PUBACK was still queued or lost with the connection) is
//   acknowledged without reaching the handler again: the subscriber remembers the packet id and
//   an XXH3 hash of topic and payload of the last kHandledKept QoS 1 messages it handled, and a
//   DUP message matching both is that message. (Brokers number packets upwards, mosquitto
//   included, so an id comes back only after 65,535 others; one that reused a freed id at
//   once for an identical message lost at a disconnect would have that message taken for
//   the earlier one.) After a process restart the table is empty: the agent's journal tells
//   those redeliveries apart (docs/agent.md, "Durability");
// - bounds: a packet's remaining length takes at most 4 bytes; a PUBLISH whose payload passes
//   max_payload_bytes is read past without being held (its topic goes to the oversize
//   handler, a QoS 1 one is acknowledged: it would never fit) and any other packet above the
//   bound, or malformed bytes (net/mqtt_codec.h), end the connection as a protocol error,
//   counted by reason and logged.
//
// Thread-safety: start()/stop() from one controlling thread; connected() and stats() from any
// thread. The handlers run on the subscriber's thread, one message at a time, and may block:
// nothing more is read from the socket meanwhile (backpressure; the broker queues for the
// session). They must not throw (an exception is caught and counted).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/net/mqtt_codec.h"
#include "edgesketch/net/mqtt_connection.h"

namespace edgesketch::net {

struct MqttSubscriberOptions {
  // Broker, identity, credentials, TLS, reconnect delays, keep-alive, connect timeout.
  MqttConnection connection;
  // Subscribed after every connect; at least one.
  std::vector<MqttSubscription> subscriptions;
  // PUBLISH payloads above this are not held nor handed to on_message (on_oversize instead).
  std::size_t max_payload_bytes = std::size_t{1} << 20;
  // Bound on writing one batch of packets (PUBACKs, PINGREQ) to the socket.
  int write_timeout_ms = 5000;
  // Names the client in log lines ("input devices").
  std::string name = "mqtt";
};

struct MqttSubscriberStats {
  std::uint64_t connects = 0;          // successful connects (subscriptions made)
  std::uint64_t connect_failures = 0;  // failed attempts (refused, timeout, SUBACK failure)
  std::uint64_t connection_losses = 0;
  std::uint64_t messages = 0;            // PUBLISH packets handed to on_message
  std::uint64_t oversize = 0;            // PUBLISH packets handed to on_oversize
  std::uint64_t handler_exceptions = 0;  // exceptions a handler let escape (caught)
  std::uint64_t protocol_errors = 0;     // connections ended for malformed or oversized packets
  std::uint64_t reads = 0;               // read calls that returned bytes
  std::uint64_t redeliveries = 0;        // DUP messages handled before, acknowledged only
};

// A received message; the views are valid only during the handler's call.
struct MqttMessage {
  std::string_view topic;
  ByteSpan payload;
  int qos = 0;
  // MQTT DUP: the broker sent this message before on the session without getting its PUBACK
  // ([MQTT-3.3.1-1]); a message without it was never delivered before.
  bool dup = false;
  std::uint16_t packet_id = 0;  // QoS 1 only
};

class MqttSubscriber {
 public:
  using MessageHandler = std::function<void(const MqttMessage& message)>;
  // A PUBLISH whose payload (payload_bytes) passes max_payload_bytes, dropped.
  using OversizeHandler = std::function<void(std::string_view topic, std::size_t payload_bytes)>;

  // Validates the options. kInvalidArgument for a bad URI (net/broker_stream.h's forms), an
  // empty client id, TLS files without an ssl:// URI, a client certificate without its key (or
  // the reverse), no subscription, a bad topic filter or a QoS other than 0/1.
  static Result<std::unique_ptr<MqttSubscriber>> create(MqttSubscriberOptions options,
                                                        MessageHandler on_message,
                                                        OversizeHandler on_oversize);
  ~MqttSubscriber();  // stop()
  MqttSubscriber(const MqttSubscriber&) = delete;
  MqttSubscriber& operator=(const MqttSubscriber&) = delete;

  // Starts the thread. Returns at once; connected() says when the subscriptions are made.
  void start();
  // Sends DISCONNECT (bounded by write_timeout_ms) and joins the thread. Waits for a handler
  // that is running to return. Idempotent. Do not call from a handler.
  void stop();

  bool connected() const { return connected_.load(std::memory_order_acquire); }
  MqttSubscriberStats stats() const;
  // The number of protocol errors of each reason (indexed by MqttDecodeError).
  std::uint64_t protocol_errors(MqttDecodeError reason) const;

 private:
  class Session;
  MqttSubscriber(MqttSubscriberOptions options, MessageHandler on_message,
                 OversizeHandler on_oversize);
  void run();
  void remember_handled(std::uint16_t packet_id, std::uint64_t hash);

  const MqttSubscriberOptions options_;
  MessageHandler on_message_;
  OversizeHandler on_oversize_;
  std::thread thread_;
  int wake_fd_ = -1;  // eventfd: stop() wakes the thread's poll

  std::atomic<bool> connected_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> connects_{0}, connect_failures_{0}, connection_losses_{0},
      messages_{0}, oversize_{0}, handler_exceptions_{0}, protocol_errors_{0}, reads_{0},
      redeliveries_{0};
  static constexpr std::size_t kReasons = 9;
  static constexpr std::size_t kHandledKept = 1024;
  // QoS 1 messages handled lately: packet id -> hash of topic and payload, and their order
  // (oldest first). Owned by the thread; kept across connections.
  std::unordered_map<std::uint16_t, std::uint64_t> handled_;
  std::deque<std::pair<std::uint16_t, std::uint64_t>> handled_order_;
  std::atomic<std::uint64_t> errors_by_reason_[kReasons] = {};
};

}  // namespace edgesketch::net
