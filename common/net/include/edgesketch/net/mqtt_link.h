// MqttLink: one MQTT 3.1.1 connection (Paho C++ async_client) that keeps itself connected.
// Used by the uplink forwarder and by the MQTT inputs.
//
// - Persistent session by default: clean_session = false under a stable client id, so the
//   broker keeps the subscriptions and queues QoS 1 messages while the link is down.
// - Its own thread connects, and after a lost connection reconnects with exponential backoff
//   and jitter (net/backoff.h). Paho's own automatic reconnect is not used: it counts in whole
//   seconds and has no jitter.
// - Every subscription is (re)made after every connect, whatever the broker says about the
//   session: a broker without persistence forgets sessions when it restarts.
// - No client-side persistence: the agent's durable state is its journal and outbox.
//
// Thread-safety: publish(), connected(), epoch() and stats() may be called from any thread.
// The message handler runs on Paho's receive thread, one message at a time; while it runs,
// Paho reads nothing more from the socket (backpressure). The state handler runs on the link's
// thread or on Paho's thread and must only signal (set a flag, notify).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/net/backoff.h"
#include "edgesketch/net/mqtt_connection.h"

namespace mqtt {
class async_client;
}

namespace edgesketch::net {

struct MqttLinkOptions {
  // Broker, identity, credentials, TLS, reconnect delays (net/mqtt_connection.h).
  MqttConnection connection;
  // Made after every successful connect.
  std::vector<MqttSubscription> subscriptions;
  // QoS 1 messages Paho keeps in flight on the connection (its MQTT receive maximum).
  int max_inflight = 1024;
  // Bound on the DISCONNECT at stop().
  int disconnect_timeout_ms = 1000;
  // Names the link in log lines ("uplink", "input local").
  std::string name = "mqtt";
};

struct MqttLinkStats {
  std::uint64_t connects = 0;          // successful connects (incl. the first)
  std::uint64_t connect_failures = 0;  // failed attempts (refused, timeout, SUBACK failure)
  std::uint64_t connection_losses = 0;
  std::uint64_t messages = 0;            // messages handed to the message handler
  std::uint64_t handler_exceptions = 0;  // exceptions the message handler let escape (caught)
  std::uint64_t publishes = 0;
  std::uint64_t publish_errors = 0;
};

class MqttLink {
 public:
  // Runs on Paho's receive thread for every message; may block (backpressure). Exceptions are
  // caught and counted: none may reach Paho's C code.
  using MessageHandler = std::function<void(const std::string& topic, ByteSpan payload)>;
  // What the broker says about a received message beyond its topic and payload.
  struct MessageFlags {
    // MQTT DUP: the broker sent this message before on the session without getting its PUBACK
    // (MQTT 3.1.1 [MQTT-3.3.1-1]). A message without it was never delivered before.
    bool dup = false;
  };
  using FlaggedMessageHandler =
      std::function<void(const std::string& topic, ByteSpan payload, const MessageFlags& flags)>;
  // Told about connects and losses; must only signal.
  using StateHandler = std::function<void(bool connected)>;

  // Validates the options and creates the (not yet connected) client. kInvalidArgument for a
  // bad URI, an empty client id, TLS files without an ssl:// URI, a client certificate without
  // its key (or the reverse), an empty topic filter or a QoS other than 0/1.
  static Result<std::unique_ptr<MqttLink>> create(MqttLinkOptions options,
                                                  MessageHandler on_message, StateHandler on_state);
  // The same, with a handler that also receives the message's flags.
  static Result<std::unique_ptr<MqttLink>> create_flagged(MqttLinkOptions options,
                                                          FlaggedMessageHandler on_message,
                                                          StateHandler on_state);
  ~MqttLink();  // stop()
  MqttLink(const MqttLink&) = delete;
  MqttLink& operator=(const MqttLink&) = delete;

  // Starts the connecting thread. Returns at once; connected() says when the link is up.
  void start();
  // Disconnects (bounded by disconnect_timeout_ms) and joins the thread; an attempt in progress
  // is abandoned within ~50 ms. Idempotent. Do not call from the message handler.
  void stop();

  bool connected() const { return connected_.load(std::memory_order_acquire); }
  // Incremented by every successful connect (subscriptions made): a changed value tells a
  // publisher that messages in flight on the old connection may need resending.
  std::uint64_t epoch() const { return epoch_.load(std::memory_order_acquire); }

  // Hands the message to Paho (asynchronous; PUBACK not awaited). kUnavailable when not
  // connected or when Paho refuses it (its error text included).
  Status publish(const std::string& topic, ByteSpan payload, int qos);

  MqttLinkStats stats() const;
  const MqttLinkOptions& options() const { return options_; }

 private:
  MqttLink(MqttLinkOptions options, FlaggedMessageHandler on_message, StateHandler on_state);
  void run();
  Status connect_once();
  void on_connection_lost();
  void disconnect_quietly();

  const MqttLinkOptions options_;
  FlaggedMessageHandler on_message_;
  StateHandler on_state_;
  std::unique_ptr<mqtt::async_client> client_;
  std::thread thread_;

  std::atomic<bool> connected_{false};
  std::atomic<std::uint64_t> epoch_{0};
  std::atomic<bool> stopping_{false};

  std::mutex mu_;  // guards lost_ and the wait on cv_
  std::condition_variable cv_;
  bool lost_ = false;

  std::atomic<std::uint64_t> connects_{0}, connect_failures_{0}, connection_losses_{0},
      messages_{0}, handler_exceptions_{0}, publishes_{0}, publish_errors_{0};
};

}  // namespace edgesketch::net
