// MQTT publishing. QoS 0 queues PUBLISH packets in net::MqttBatchPublisher and writes them in
// batches from the sending thread (the write blocks only when the socket buffer is full, which is
// the backpressure we want); QoS 1, with Paho MQTT C, keeps up to max_inflight messages
// unacknowledged and counts PUBACKs in on_delivered; a full window waits until half of it is
// acknowledged.
#include "mqtt_transport.h"

#include <MQTTClient.h>

#include <chrono>

namespace edgesketch::sim {
namespace {

std::int64_t monotonic_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The simulator subscribes to nothing; free whatever arrives.
int on_message(void* /*context*/, char* topic, int /*topic_len*/, MQTTClient_message* message) {
  MQTTClient_freeMessage(&message);
  MQTTClient_free(topic);
  return 1;
}

}  // namespace

Result<std::unique_ptr<MqttTransport>> MqttTransport::connect(const MqttOptions& options) {
  if (options.qos != 0 && options.qos != 1) {
    return Status::invalid_argument("mqtt: qos must be 0 or 1, not " + std::to_string(options.qos));
  }
  std::unique_ptr<MqttTransport> t(new MqttTransport(options));
  if (options.qos == 0) {
    ES_RETURN_IF_ERROR(t->open_connection());
    return t;
  }
  MQTTClient client = nullptr;
  int rc = MQTTClient_create(&client, options.uri.c_str(), options.client_id.c_str(),
                             MQTTCLIENT_PERSISTENCE_NONE, nullptr);
  if (rc != MQTTCLIENT_SUCCESS) {
    return Status::invalid_argument("mqtt: cannot create a client for '" + options.uri + "': " +
                                    MQTTClient_strerror(rc) + " (expected tcp://HOST:PORT)");
  }
  t->client_ = client;
  rc = MQTTClient_setCallbacks(client, t.get(), &MqttTransport::on_connection_lost, &on_message,
                               &MqttTransport::on_delivered);
  if (rc != MQTTCLIENT_SUCCESS) {
    return Status::internal(std::string("mqtt: setCallbacks failed: ") + MQTTClient_strerror(rc));
  }
  ES_RETURN_IF_ERROR(t->open_connection());
  return t;
}

MqttTransport::MqttTransport(MqttOptions options) : options_(std::move(options)) {}

MqttTransport::~MqttTransport() {
  if (client_ != nullptr) {
    MQTTClient client = client_;
    if (connected_) MQTTClient_disconnect(client, 1000);
    MQTTClient_destroy(&client);
  }
}

Status MqttTransport::open_connection() {
  if (options_.qos == 0) {
    net::MqttBatchPublisherOptions o;
    o.connection.uri = options_.uri;
    o.connection.client_id = options_.client_id;
    o.connection.clean_session = true;
    o.connection.keepalive_s = 30;
    o.connection.connect_timeout_ms = 5000;
    last_connect_attempt_ns_ = monotonic_ns();
    auto b = net::MqttBatchPublisher::connect(std::move(o));
    if (!b.ok()) {
      return Status(b.status().code(), "mqtt: cannot connect to " + options_.uri + ": " +
                                           b.status().message() +
                                           " (is the broker running there?)");
    }
    batch_ = std::move(*b);
    connected_ = true;
    return Status();
  }
  MQTTClient_connectOptions opts = MQTTClient_connectOptions_initializer;
  opts.keepAliveInterval = 30;
  opts.cleansession = 1;
  opts.reliable = 0;
  opts.connectTimeout = 5;
  opts.maxInflightMessages = options_.max_inflight;
  opts.MQTTVersion = MQTTVERSION_3_1_1;
  last_connect_attempt_ns_ = monotonic_ns();
  int rc = MQTTClient_connect(client_, &opts);
  if (rc != MQTTCLIENT_SUCCESS) {
    return Status::unavailable("mqtt: cannot connect to " + options_.uri + ": " +
                               MQTTClient_strerror(rc) + " (is the broker running there?)");
  }
  // Acknowledgements of a previous connection will never come: start counting afresh.
  published_qos1_ = delivered_.load();
  connected_ = true;
  return Status();
}

Status MqttTransport::wait_for_inflight_below(std::uint64_t limit, int timeout_ms) {
  if (published_qos1_ - delivered_.load() < limit) return Status();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock<std::mutex> lock(mu_);
  // on_delivered() wakes this thread once, when the count reaches wake_at_, not at every ack.
  wake_at_.store(published_qos1_ - limit + 1);
  struct NoMoreWakes {
    std::atomic<std::uint64_t>& wake_at;
    ~NoMoreWakes() { wake_at.store(UINT64_MAX); }
  } no_more_wakes{wake_at_};
  while (published_qos1_ - delivered_.load() >= limit) {
    if (!connected_) return Status::unavailable("mqtt: connection lost with messages in flight");
    // Short waits: a lost connection is noticed through connected_, not through a notify.
    if (delivered_cv_.wait_for(lock, std::chrono::milliseconds(50)) == std::cv_status::timeout &&
        std::chrono::steady_clock::now() >= deadline) {
      return Status::unavailable("mqtt: " + std::to_string(published_qos1_ - delivered_.load()) +
                                 " QoS 1 messages unacknowledged after " +
                                 std::to_string(timeout_ms) + " ms");
    }
  }
  return Status();
}

Status MqttTransport::send(std::string_view topic, std::string_view payload) {
  if (!connected_) {
    if (monotonic_ns() - last_connect_attempt_ns_ <
        static_cast<std::int64_t>(options_.reconnect_interval_ms) * 1'000'000) {
      return Status::unavailable("mqtt: not connected to " + options_.uri);
    }
    ES_RETURN_IF_ERROR(open_connection());
    ++reconnects_;
  }
  topic_.assign(options_.topic_prefix);
  topic_.push_back('/');
  topic_.append(topic);
  if (batch_ != nullptr) {
    Status s = batch_->publish(
        topic_, ByteSpan(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()));
    if (!batch_->connected()) connected_ = false;
    if (!s.ok()) return Status(s.code(), "mqtt: publish to '" + topic_ + "': " + s.message());
    return Status();
  }
  if (options_.qos == 1) {
    // A full window is let down to half before the next publish: one wake per half window
    // instead of one per acknowledgement.
    const auto window = static_cast<std::uint64_t>(options_.max_inflight);
    if (published_qos1_ - delivered_.load() >= window) {
      ES_RETURN_IF_ERROR(wait_for_inflight_below(window / 2 + 1, 10'000));
    }
  }
  MQTTClient_deliveryToken token = 0;
  int rc = MQTTClient_publish(client_, topic_.c_str(), static_cast<int>(payload.size()),
                              payload.data(), options_.qos, 0, &token);
  if (rc == MQTTCLIENT_MAX_MESSAGES_INFLIGHT) {
    ES_RETURN_IF_ERROR(wait_for_inflight_below(published_qos1_ - delivered_.load(), 10'000));
    rc = MQTTClient_publish(client_, topic_.c_str(), static_cast<int>(payload.size()),
                            payload.data(), options_.qos, 0, &token);
  }
  if (rc != MQTTCLIENT_SUCCESS) {
    if (rc == MQTTCLIENT_DISCONNECTED) connected_ = false;
    return Status::unavailable("mqtt: publish to '" + topic_ +
                               "' failed: " + MQTTClient_strerror(rc));
  }
  if (options_.qos == 1) ++published_qos1_;
  return Status();
}

Status MqttTransport::flush() {
  if (batch_ == nullptr || !connected_) return Status();
  Status s = batch_->flush();
  if (!batch_->connected()) connected_ = false;
  return s;
}

Status MqttTransport::finish() {
  if (batch_ != nullptr) {
    Status s = connected_ ? batch_->close() : Status();
    connected_ = false;
    return s;
  }
  Status s;
  if (options_.qos == 1 && connected_) {
    s = wait_for_inflight_below(1, options_.finish_timeout_ms);
  }
  if (connected_) {
    MQTTClient_disconnect(client_, 5000);
    connected_ = false;
  }
  return s;
}

void MqttTransport::on_connection_lost(void* context, char* /*cause*/) {
  auto* self = static_cast<MqttTransport*>(context);
  self->connected_ = false;
  self->delivered_cv_.notify_all();
}

void MqttTransport::on_delivered(void* context, int /*token*/) {
  auto* self = static_cast<MqttTransport*>(context);
  if (self->delivered_.fetch_add(1) + 1 >= self->wake_at_.load(std::memory_order_relaxed)) {
    std::lock_guard<std::mutex> lock(self->mu_);  // not between the waiter's check and its wait
    self->delivered_cv_.notify_all();
  }
}

}  // namespace edgesketch::sim
