// A test subscriber (Paho MQTT C) that collects every message on a topic filter in arrival order.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "edgesketch/common/status.h"

namespace edgesketch::sim::test {

struct ReceivedPayload {
  std::string topic;
  std::string payload;
};

// Paho calls on_message on its own thread; the vector is guarded by mu_.
class MqttSubscriber {
 public:
  // Connects to `uri` and subscribes to `filter` at `qos`.
  static Result<std::unique_ptr<MqttSubscriber>> connect(const std::string& uri,
                                                         const std::string& filter, int qos);
  ~MqttSubscriber();

  // Waits (bounded) until at least `count` messages arrived; returns how many did.
  std::size_t wait_for(std::size_t count, int timeout_ms);
  std::vector<ReceivedPayload> take();

  // Appends one message; called on Paho's thread.
  void add(ReceivedPayload payload);

 private:
  MqttSubscriber() = default;

  void* client_ = nullptr;
  std::mutex mu_;  // guards received_
  std::condition_variable cv_;
  std::vector<ReceivedPayload> received_;
};

}  // namespace edgesketch::sim::test
