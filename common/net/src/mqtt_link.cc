// MqttLink: connect / subscribe / wait-for-loss loop on its own thread, backoff between attempts.
#include "edgesketch/net/mqtt_link.h"

#include <spdlog/spdlog.h>

#include <mqtt/async_client.h>
#include <chrono>
#include <fstream>

namespace edgesketch::net {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Waits for a Paho token in short slices so that stop() is noticed; returns the token's error as
// a Status (Paho reports failures by throwing from wait_for).
Status wait_token(const mqtt::token_ptr& tok, int timeout_ms, const std::atomic<bool>& stopping,
                  std::string_view what) {
  auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  try {
    while (!tok->wait_for(std::chrono::milliseconds(50))) {
      if (stopping.load()) return Status::unavailable(std::string(what) + ": stopping");
      if (SteadyClock::now() >= deadline) {
        return Status::unavailable(std::string(what) + ": no answer within " +
                                   std::to_string(timeout_ms) + " ms");
      }
    }
  } catch (const std::exception& e) {
    return Status::unavailable(std::string(what) + ": " + e.what());
  }
  return Status();
}

}  // namespace

Result<std::unique_ptr<MqttLink>> MqttLink::create(MqttLinkOptions options,
                                                   MessageHandler on_message,
                                                   StateHandler on_state) {
  FlaggedMessageHandler flagged;
  if (on_message) {
    flagged = [h = std::move(on_message)](const std::string& topic, ByteSpan payload,
                                          const MessageFlags&) { h(topic, payload); };
  }
  return create_flagged(std::move(options), std::move(flagged), std::move(on_state));
}

Result<std::unique_ptr<MqttLink>> MqttLink::create_flagged(MqttLinkOptions options,
                                                           FlaggedMessageHandler on_message,
                                                           StateHandler on_state) {
  const MqttConnection& c = options.connection;
  if (c.client_id.empty()) {
    return Status::invalid_argument("mqtt " + options.name +
                                    ": client_id is empty (set a stable, unique id: the "
                                    "persistent session is kept under it)");
  }
  const bool tls = c.uri.rfind("ssl://", 0) == 0;
  if (!tls && c.uri.rfind("tcp://", 0) != 0 && c.uri.rfind("mqtt://", 0) != 0) {
    return Status::invalid_argument("mqtt " + options.name + ": broker uri '" + c.uri +
                                    "' is not tcp://HOST:PORT or ssl://HOST:PORT");
  }
  if (!tls && (!c.ca_file.empty() || !c.cert_file.empty())) {
    return Status::invalid_argument("mqtt " + options.name +
                                    ": TLS files are set but the broker uri '" + c.uri +
                                    "' is not ssl://");
  }
  if (c.cert_file.empty() != c.key_file.empty()) {
    return Status::invalid_argument("mqtt " + options.name +
                                    ": a client certificate needs both cert_file and key_file");
  }
  for (const MqttSubscription& s : options.subscriptions) {
    if (s.qos != 0 && s.qos != 1) {
      return Status::invalid_argument("mqtt " + options.name + ": qos of '" + s.topic_filter +
                                      "' must be 0 or 1, not " + std::to_string(s.qos));
    }
    if (s.topic_filter.empty()) {
      return Status::invalid_argument("mqtt " + options.name + ": empty topic filter");
    }
  }
  std::unique_ptr<MqttLink> link(
      new MqttLink(std::move(options), std::move(on_message), std::move(on_state)));
  try {
    link->client_ = std::make_unique<mqtt::async_client>(
        link->options_.connection.uri, link->options_.connection.client_id, nullptr);
  } catch (const std::exception& e) {
    return Status::invalid_argument("mqtt " + link->options_.name +
                                    ": cannot create a client for '" +
                                    link->options_.connection.uri + "': " + e.what());
  }
  MqttLink* self = link.get();
  link->client_->set_connection_lost_handler(
      [self](const std::string& /*cause*/) { self->on_connection_lost(); });
  link->client_->set_message_callback([self](mqtt::const_message_ptr msg) {
    self->messages_.fetch_add(1, std::memory_order_relaxed);
    if (!self->on_message_) return;
    try {
      const std::string& p = msg->get_payload();
      MessageFlags flags;
      flags.dup = msg->is_duplicate();
      self->on_message_(msg->get_topic(),
                        ByteSpan(reinterpret_cast<const std::uint8_t*>(p.data()), p.size()), flags);
    } catch (...) {
      // Nothing may unwind into Paho's C code.
      self->handler_exceptions_.fetch_add(1, std::memory_order_relaxed);
    }
  });
  return link;
}

MqttLink::MqttLink(MqttLinkOptions options, FlaggedMessageHandler on_message, StateHandler on_state)
    : options_(std::move(options)),
      on_message_(std::move(on_message)),
      on_state_(std::move(on_state)) {}

MqttLink::~MqttLink() {
  stop();
  try {
    if (client_) client_->disable_callbacks();
  } catch (const std::exception&) {
    // Paho refuses when the client never connected: there are no callbacks to stop then.
  }
}

void MqttLink::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void MqttLink::stop() {
  stopping_ = true;
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void MqttLink::on_connection_lost() {
  connected_.store(false, std::memory_order_release);
  connection_losses_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mu_);
    lost_ = true;
  }
  cv_.notify_all();
  if (on_state_) on_state_(false);
}

Status MqttLink::connect_once() {
  const MqttConnection& c = options_.connection;
  mqtt::connect_options opts;
  opts.set_mqtt_version(MQTTVERSION_3_1_1);
  opts.set_clean_session(c.clean_session);
  opts.set_keep_alive_interval(c.keepalive_s);
  opts.set_connect_timeout(std::max(1, (c.connect_timeout_ms + 999) / 1000));
  opts.set_automatic_reconnect(false);
  opts.set_max_inflight(options_.max_inflight);
  if (!c.username.empty()) {
    opts.set_user_name(c.username);
    std::string password = c.password;
    if (!c.password_file.empty()) {
      std::ifstream in(c.password_file);
      if (!in || !std::getline(in, password)) {
        return Status::unavailable("mqtt " + options_.name + ": cannot read password_file " +
                                   c.password_file);
      }
    }
    opts.set_password(password);
  }
  if (c.uri.rfind("ssl://", 0) == 0) {
    mqtt::ssl_options ssl;
    ssl.set_enable_server_cert_auth(true);
    ssl.set_verify(true);  // the certificate must name the host we connect to
    if (!c.ca_file.empty()) ssl.set_trust_store(c.ca_file);
    if (!c.cert_file.empty()) {
      ssl.set_key_store(c.cert_file);
      ssl.set_private_key(c.key_file);
    }
    opts.set_ssl(ssl);
  }
  {
    // Reset before connecting: a loss of the new connection, however early, must be seen.
    std::lock_guard<std::mutex> lock(mu_);
    lost_ = false;
  }
  mqtt::token_ptr tok;
  try {
    tok = client_->connect(opts);
  } catch (const std::exception& e) {
    return Status::unavailable("connect to " + c.uri + ": " + e.what());
  }
  ES_RETURN_IF_ERROR(wait_token(tok, c.connect_timeout_ms + 500, stopping_, "connect to " + c.uri));
  if (!options_.subscriptions.empty()) {
    auto filters = std::make_shared<mqtt::string_collection>();
    std::vector<int> qos;
    for (const MqttSubscription& s : options_.subscriptions) {
      filters->push_back(s.topic_filter);
      qos.push_back(s.qos);
    }
    mqtt::token_ptr sub;
    try {
      sub = client_->subscribe(filters, qos);
    } catch (const std::exception& e) {
      disconnect_quietly();
      return Status::unavailable("subscribe on " + c.uri + ": " + e.what());
    }
    Status s = wait_token(sub, c.connect_timeout_ms, stopping_, "subscribe");
    if (!s.ok()) {
      disconnect_quietly();
      return s;
    }
  }
  return Status();
}

void MqttLink::disconnect_quietly() {
  try {
    if (client_->is_connected()) {
      client_->disconnect(options_.disconnect_timeout_ms)
          ->wait_for(std::chrono::milliseconds(options_.disconnect_timeout_ms + 200));
    }
  } catch (const std::exception&) {
    // Already gone: nothing to undo.
  }
  connected_.store(false, std::memory_order_release);
}

void MqttLink::run() {
  Backoff backoff(options_.connection.backoff);
  while (!stopping_.load()) {
    Status s = connect_once();
    if (stopping_.load()) break;
    if (!s.ok()) {
      connect_failures_.fetch_add(1, std::memory_order_relaxed);
      std::int64_t delay = backoff.next_delay_ms();
      // Log the first failure of an outage loudly, the rest quietly.
      if (backoff.failures() == 1) {
        spdlog::warn("mqtt {}: {}; retrying with backoff (next in {} ms)", options_.name,
                     s.message(), delay);
      } else {
        spdlog::debug("mqtt {}: {}; next attempt in {} ms", options_.name, s.message(), delay);
      }
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(delay), [this] { return stopping_.load(); });
      continue;
    }
    if (backoff.failures() > 0) {
      spdlog::info("mqtt {}: connected to {} after {} failed attempts", options_.name,
                   options_.connection.uri, backoff.failures());
    }
    backoff.reset();
    connects_.fetch_add(1, std::memory_order_relaxed);
    connected_.store(true, std::memory_order_release);
    epoch_.fetch_add(1, std::memory_order_acq_rel);
    if (on_state_) on_state_(true);
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_.load() || lost_; });
      if (stopping_.load()) break;
    }
    connected_.store(false, std::memory_order_release);
    spdlog::warn("mqtt {}: connection to {} lost; reconnecting", options_.name,
                 options_.connection.uri);
    std::int64_t delay = backoff.next_delay_ms();
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(delay), [this] { return stopping_.load(); });
  }
  disconnect_quietly();
  if (on_state_) on_state_(false);
}

Status MqttLink::publish(const std::string& topic, ByteSpan payload, int qos) {
  if (!connected()) return Status::unavailable("mqtt " + options_.name + ": not connected");
  try {
    auto msg = mqtt::make_message(topic, payload.data(), payload.size(), qos, false);
    client_->publish(msg);
  } catch (const std::exception& e) {
    publish_errors_.fetch_add(1, std::memory_order_relaxed);
    return Status::unavailable("mqtt " + options_.name + ": publish to '" + topic +
                               "' failed: " + e.what());
  }
  publishes_.fetch_add(1, std::memory_order_relaxed);
  return Status();
}

MqttLinkStats MqttLink::stats() const {
  MqttLinkStats s;
  s.connects = connects_.load();
  s.connect_failures = connect_failures_.load();
  s.connection_losses = connection_losses_.load();
  s.messages = messages_.load();
  s.handler_exceptions = handler_exceptions_.load();
  s.publishes = publishes_.load();
  s.publish_errors = publish_errors_.load();
  return s;
}

}  // namespace edgesketch::net
