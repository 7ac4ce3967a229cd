// MqttInput: an net::MqttLink whose message handler calls the sink, with counters around it.
#include "input/mqtt_input.h"

#include <spdlog/spdlog.h>

namespace edgesketch::agent {

Result<std::unique_ptr<MqttInput>> MqttInput::create(MqttInputOptions options, InputSink sink) {
  if (!sink) return Status::invalid_argument("mqtt input " + options.name + ": no sink");
  if (options.topics.empty()) {
    return Status::invalid_argument("mqtt input " + options.name + ": no topics to subscribe");
  }
  std::unique_ptr<MqttInput> in(new MqttInput(std::move(options), std::move(sink)));
  net::MqttLinkOptions lo;
  lo.name = "input " + in->options_.name;
  lo.connection = in->options_.connection;
  for (const std::string& t : in->options_.topics)
    lo.subscriptions.push_back({t, in->options_.qos});
  MqttInput* self = in.get();
  ES_ASSIGN_OR_RETURN(in->link_, net::MqttLink::create_flagged(
                                     std::move(lo),
                                     [self](const std::string& topic, ByteSpan payload,
                                            const net::MqttLink::MessageFlags& flags) {
                                       self->on_message(topic, payload, flags.dup);
                                     },
                                     nullptr));
  return in;
}

MqttInput::MqttInput(MqttInputOptions options, InputSink sink)
    : options_(std::move(options)), sink_(std::move(sink)) {}

MqttInput::~MqttInput() { stop(); }

void MqttInput::start() { link_->start(); }

void MqttInput::stop() {
  if (link_) link_->stop();
}

void MqttInput::on_message(const std::string& topic, ByteSpan payload, bool dup) {
  counters_.arrived(payload.size());
  if (payload.size() > options_.max_payload_bytes) {
    if (counters_.oversize()) {
      const bool withhold = options_.withhold_topics != nullptr && options_.withhold_topics->load();
      spdlog::warn("mqtt input {}: dropping a {} byte payload on '{}' (max_payload_bytes {})",
                   options_.name, payload.size(), withhold ? "(withheld: [privacy])" : topic,
                   options_.max_payload_bytes);
    }
    return;
  }
  counters_.deliver(sink_, topic, payload, dup);
}

MqttInputStats MqttInput::stats() const {
  MqttInputStats s;
  static_cast<InputCounts&>(s) = counters_.counts();
  s.connected = link_->connected();
  s.link = link_->stats();
  return s;
}

}  // namespace edgesketch::agent
