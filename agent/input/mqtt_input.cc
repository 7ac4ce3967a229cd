// MqttInput: a net::MqttSubscriber whose message handler calls the sink, with counters around it.
#include "input/mqtt_input.h"

#include <spdlog/spdlog.h>

namespace edgesketch::agent {

Result<std::unique_ptr<MqttInput>> MqttInput::create(MqttInputOptions options, InputSink sink) {
  if (!sink) return Status::invalid_argument("mqtt input " + options.name + ": no sink");
  if (options.topics.empty()) {
    return Status::invalid_argument("mqtt input " + options.name + ": no topics to subscribe");
  }
  std::unique_ptr<MqttInput> in(new MqttInput(std::move(options), std::move(sink)));
  net::MqttSubscriberOptions so;
  so.name = "input " + in->options_.name;
  so.connection = in->options_.connection;
  so.max_payload_bytes = in->options_.max_payload_bytes;
  for (const std::string& t : in->options_.topics)
    so.subscriptions.push_back({t, in->options_.qos});
  MqttInput* self = in.get();
  ES_ASSIGN_OR_RETURN(
      in->client_,
      net::MqttSubscriber::create(
          std::move(so), [self](const net::MqttMessage& m) { self->on_message(m); },
          [self](std::string_view topic, std::size_t bytes) { self->on_oversize(topic, bytes); }));
  return in;
}

MqttInput::MqttInput(MqttInputOptions options, InputSink sink)
    : options_(std::move(options)), sink_(std::move(sink)) {}

MqttInput::~MqttInput() { stop(); }

void MqttInput::start() { client_->start(); }

void MqttInput::stop() {
  if (client_) client_->stop();
}

void MqttInput::on_message(const net::MqttMessage& m) {
  counters_.arrived(m.payload.size());
  counters_.deliver(sink_, m.topic, m.payload, m.dup);
}

void MqttInput::on_oversize(std::string_view topic, std::size_t payload_bytes) {
  counters_.arrived(payload_bytes);
  if (counters_.oversize()) {
    const bool withhold = options_.withhold_topics != nullptr && options_.withhold_topics->load();
    spdlog::warn("mqtt input {}: dropping a {} byte payload on '{}' (max_payload_bytes {})",
                 options_.name, payload_bytes, withhold ? "(withheld: [privacy])" : topic,
                 options_.max_payload_bytes);
  }
}

MqttInputStats MqttInput::stats() const {
  MqttInputStats s;
  static_cast<InputCounts&>(s) = counters_.counts();
  s.connected = client_->connected();
  s.link = client_->stats();
  return s;
}

}  // namespace edgesketch::agent
