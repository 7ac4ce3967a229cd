// AckDouble: Paho C++ async_client with automatic reconnect; commit on Paho's thread, acks from
// a sender thread so that ack_delay_ms never stalls message delivery.
#include "support/ack_double.h"

#include <mqtt/async_client.h>
#include <chrono>

#include "edgesketch/wire/codec.h"

namespace edgesketch::test_support {
namespace {

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "<prefix>/<tenant>/<gateway>/windows" -> tenant, gateway; false for anything else.
bool split_topic(const std::string& prefix, const std::string& topic, std::string& tenant,
                 std::string& gateway) {
  if (topic.size() <= prefix.size() + 1 || topic.compare(0, prefix.size(), prefix) != 0 ||
      topic[prefix.size()] != '/') {
    return false;
  }
  std::string rest = topic.substr(prefix.size() + 1);
  std::size_t a = rest.find('/');
  if (a == std::string::npos) return false;
  std::size_t b = rest.find('/', a + 1);
  if (b == std::string::npos || rest.substr(b + 1) != "windows") return false;
  tenant = rest.substr(0, a);
  gateway = rest.substr(a + 1, b - a - 1);
  return !tenant.empty() && !gateway.empty();
}

}  // namespace

std::string series_name(const wire::SeriesKey& key) {
  std::string s = key.metric + "{";
  for (std::size_t i = 0; i < key.tags.size(); ++i) {
    if (i > 0) s += ",";
    s += key.tags[i].key + "=" + key.tags[i].value;
  }
  return s + "}";
}

AckDouble::AckDouble(AckDoubleOptions options)
    : options_(std::move(options)),
      drop_acks_(options_.drop_acks),
      ack_delay_ms_(options_.ack_delay_ms) {
  sender_ = std::thread([this] { sender_loop(); });
}

AckDouble::~AckDouble() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  sender_.join();
  (void)stop();
  try {
    if (client_) client_->disable_callbacks();
  } catch (const std::exception&) {
    // Paho refuses when the client never connected: there are no callbacks to stop then.
  }
}

void AckDouble::subscribe_async() {
  try {
    client_->subscribe(options_.topic_prefix + "/+/+/windows", 1);
  } catch (const std::exception&) {
    // Reconnect brings another chance.
  }
}

Status AckDouble::start() {
  try {
    if (!client_) {
      client_ = std::make_unique<mqtt::async_client>(options_.uri, options_.client_id, nullptr);
      client_->set_message_callback([this](mqtt::const_message_ptr m) {
        try {
          on_message(m->get_topic(), m->get_payload());
        } catch (...) {
          std::lock_guard<std::mutex> lock(mu_);
          ++bad_payloads_;
        }
      });
      // Every connect, including automatic reconnects to a restarted broker that forgot us.
      client_->set_connected_handler([this](const std::string&) { subscribe_async(); });
    }
    mqtt::connect_options opts;
    opts.set_mqtt_version(MQTTVERSION_3_1_1);
    opts.set_clean_session(false);
    opts.set_keep_alive_interval(30);
    opts.set_connect_timeout(std::max(1, options_.connect_timeout_ms / 1000));
    opts.set_automatic_reconnect(1, 2);
    opts.set_max_inflight(4096);
    if (!client_->connect(opts)->wait_for(
            std::chrono::milliseconds(options_.connect_timeout_ms + 500))) {
      return Status::unavailable("ack double: connect to " + options_.uri + " timed out");
    }
    if (!client_->subscribe(options_.topic_prefix + "/+/+/windows", 1)
             ->wait_for(std::chrono::milliseconds(options_.connect_timeout_ms))) {
      return Status::unavailable("ack double: subscribe timed out");
    }
  } catch (const std::exception& e) {
    return Status::unavailable("ack double: connect to " + options_.uri + ": " + e.what());
  }
  return Status();
}

Status AckDouble::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    acks_lost_ += pending_.size();
    pending_.clear();
  }
  if (!client_) return Status();
  try {
    if (client_->is_connected()) client_->disconnect(1000)->wait_for(std::chrono::seconds(2));
  } catch (const std::exception& e) {
    return Status::unavailable(std::string("ack double: disconnect: ") + e.what());
  }
  return Status();
}

void AckDouble::set_drop_acks(bool on) {
  std::lock_guard<std::mutex> lock(mu_);
  drop_acks_ = on;
}

void AckDouble::set_ack_delay_ms(int ms) {
  std::lock_guard<std::mutex> lock(mu_);
  ack_delay_ms_ = ms;
}

void AckDouble::on_message(const std::string& topic, const std::string& payload) {
  std::string tenant, gateway;
  bool topic_ok = split_topic(options_.topic_prefix, topic, tenant, gateway);
  Result<wire::WindowBatch> batch = wire::decode_window_batch(
      ByteSpan(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()),
      options_.limits, wall_ms());
  std::string ack_topic = options_.topic_prefix + "/" + tenant + "/" + gateway + "/ack";
  std::unique_lock<std::mutex> lock(mu_);
  ++messages_;
  if (!topic_ok || !batch.ok()) {
    ++bad_payloads_;
    return;
  }
  wire::Ack ack;
  ack.gateway_id = gateway;
  if (batch->gateway_id != gateway || (!batch->tenant.empty() && batch->tenant != tenant)) {
    ++topic_mismatches_;
    ack.rejected.push_back({batch->seq, "unknown"});
    queue_ack(ack_topic, ack);
    lock.unlock();
    cv_.notify_all();
    return;
  }
  bool fresh = seen_.insert({gateway, batch->seq}).second;
  arrivals_.push_back({gateway, batch->seq, steady_ms(), !fresh});
  if (!fresh) {
    ++duplicates_;
  } else {
    for (const wire::WindowRecord& r : batch->records) {
      WindowKey key{tenant, series_name(r.key), r.window_start_ms, r.window_ms};
      auto it = windows_.find(key);
      if (it == windows_.end()) {
        windows_.emplace(key, CommittedWindow{r.agg, 1});
      } else if (it->second.agg.merge(r.agg).ok()) {
        ++it->second.records;
      } else {
        ++merge_errors_;
      }
      readings_ += r.agg.count();
    }
  }
  ack.seqs.push_back(batch->seq);
  if (drop_acks_) {
    ++acks_dropped_;
  } else {
    queue_ack(ack_topic, ack);
  }
  lock.unlock();
  cv_.notify_all();
}

// Called with mu_ held.
void AckDouble::queue_ack(const std::string& topic, const wire::Ack& ack) {
  pending_.push_back({steady_ms() + ack_delay_ms_, topic, wire::encode_ack(ack)});
}

void AckDouble::sender_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    if (pending_.empty()) {
      cv_.wait(lock);
      continue;
    }
    std::int64_t wait = pending_.front().due_ms - steady_ms();
    if (wait > 0) {
      cv_.wait_for(lock, std::chrono::milliseconds(wait));
      continue;
    }
    PendingAck a = std::move(pending_.front());
    pending_.pop_front();
    lock.unlock();
    bool sent = false;
    try {
      if (client_ && client_->is_connected()) {
        client_->publish(mqtt::make_message(a.topic, a.payload.data(), a.payload.size(), 1, false));
        sent = true;
      }
    } catch (const std::exception&) {
      sent = false;
    }
    lock.lock();
    (sent ? acks_sent_ : acks_lost_) += 1;
  }
}

#define ES_ACK_DOUBLE_GETTER(name, field)  \
  std::uint64_t AckDouble::name() const {  \
    std::lock_guard<std::mutex> lock(mu_); \
    return field;                          \
  }
ES_ACK_DOUBLE_GETTER(batches_committed, seen_.size())
ES_ACK_DOUBLE_GETTER(duplicates, duplicates_)
ES_ACK_DOUBLE_GETTER(messages, messages_)
ES_ACK_DOUBLE_GETTER(bad_payloads, bad_payloads_)
ES_ACK_DOUBLE_GETTER(topic_mismatches, topic_mismatches_)
ES_ACK_DOUBLE_GETTER(merge_errors, merge_errors_)
ES_ACK_DOUBLE_GETTER(acks_sent, acks_sent_)
ES_ACK_DOUBLE_GETTER(acks_dropped, acks_dropped_)
ES_ACK_DOUBLE_GETTER(acks_lost, acks_lost_)
ES_ACK_DOUBLE_GETTER(readings, readings_)
#undef ES_ACK_DOUBLE_GETTER

std::set<std::pair<std::string, std::uint64_t>> AckDouble::seqs() const {
  std::lock_guard<std::mutex> lock(mu_);
  return seen_;
}

std::map<WindowKey, CommittedWindow> AckDouble::windows() const {
  std::lock_guard<std::mutex> lock(mu_);
  return windows_;
}

std::vector<Arrival> AckDouble::arrivals() const {
  std::lock_guard<std::mutex> lock(mu_);
  return arrivals_;
}

bool AckDouble::wait_for_batches(std::uint64_t n, int timeout_ms) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                      [&] { return seen_.size() >= n; });
}

}  // namespace edgesketch::test_support
