// Collecting subscriber on Paho MQTT C's synchronous client with callbacks.
#include "mqtt_subscriber.h"

#include <MQTTClient.h>

#include <chrono>

namespace edgesketch::sim::test {
namespace {

int deliver(void* context, char* topic, int topic_len, MQTTClient_message* message);

}  // namespace

Result<std::unique_ptr<MqttSubscriber>> MqttSubscriber::connect(const std::string& uri,
                                                                const std::string& filter,
                                                                int qos) {
  std::unique_ptr<MqttSubscriber> s(new MqttSubscriber());
  MQTTClient client = nullptr;
  int rc = MQTTClient_create(&client, uri.c_str(), "es-test-subscriber",
                             MQTTCLIENT_PERSISTENCE_NONE, nullptr);
  if (rc != MQTTCLIENT_SUCCESS) return Status::internal("subscriber: create failed");
  s->client_ = client;
  MQTTClient_setCallbacks(client, s.get(), nullptr, &deliver, nullptr);
  MQTTClient_connectOptions opts = MQTTClient_connectOptions_initializer;
  opts.cleansession = 1;
  opts.keepAliveInterval = 30;
  rc = MQTTClient_connect(client, &opts);
  if (rc != MQTTCLIENT_SUCCESS) {
    return Status::unavailable(std::string("subscriber: connect failed: ") +
                               MQTTClient_strerror(rc));
  }
  rc = MQTTClient_subscribe(client, filter.c_str(), qos);
  if (rc != MQTTCLIENT_SUCCESS) {
    return Status::unavailable(std::string("subscriber: subscribe failed: ") +
                               MQTTClient_strerror(rc));
  }
  return s;
}

MqttSubscriber::~MqttSubscriber() {
  if (client_ != nullptr) {
    MQTTClient client = client_;
    MQTTClient_disconnect(client, 1000);
    MQTTClient_destroy(&client);
  }
}

void MqttSubscriber::add(ReceivedPayload payload) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    received_.push_back(std::move(payload));
  }
  cv_.notify_all();
}

std::size_t MqttSubscriber::wait_for(std::size_t count, int timeout_ms) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
               [&] { return received_.size() >= count; });
  return received_.size();
}

std::vector<ReceivedPayload> MqttSubscriber::take() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::move(received_);
}

namespace {

int deliver(void* context, char* topic, int topic_len, MQTTClient_message* message) {
  ReceivedPayload p;
  p.topic =
      topic_len > 0 ? std::string(topic, static_cast<std::size_t>(topic_len)) : std::string(topic);
  p.payload.assign(static_cast<const char*>(message->payload),
                   static_cast<std::size_t>(message->payloadlen));
  static_cast<MqttSubscriber*>(context)->add(std::move(p));
  MQTTClient_freeMessage(&message);
  MQTTClient_free(topic);
  return 1;
}

}  // namespace

}  // namespace edgesketch::sim::test
