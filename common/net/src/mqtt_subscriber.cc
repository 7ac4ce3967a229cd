// MqttSubscriber: the connect / subscribe / read loop on its own thread, backoff between
// attempts. One Session per connection: its buffers, its phase, its keep-alive clock.
#include "edgesketch/net/mqtt_subscriber.h"

#include <poll.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>

#include "broker_stream.h"
#include "edgesketch/net/backoff.h"

namespace edgesketch::net {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Read buffer to start with: many small packets per recv().
constexpr std::size_t kInitialBuffer = 64 * 1024;
// A PUBLISH's topic (2 + 65,535 bytes) and packet id before its payload.
constexpr std::size_t kPublishHeadMax = 2 + 65'535 + 2;
constexpr std::uint16_t kSubscribeId = 1;
constexpr int kDisconnectTimeoutMs = 1000;

std::int64_t ms_until(SteadyClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t - SteadyClock::now()).count();
}

}  // namespace

// One connection: CONNECT, CONNACK, SUBSCRIBE, SUBACK, then PUBLISH packets until the connection
// is lost, a protocol error, or stop().
class MqttSubscriber::Session {
 public:
  // `failed_attempts`: connect failures since the last established session, logged when this
  // one is established.
  Session(MqttSubscriber& owner, std::unique_ptr<BrokerStream> stream, int failed_attempts)
      : owner_(owner),
        failed_attempts_(failed_attempts),
        options_(owner.options_),
        stream_(std::move(stream)),
        max_packet_(options_.max_payload_bytes + kPublishHeadMax),
        in_(kInitialBuffer) {}

  // Returns why the session ended (OK: stop()); `established` is set once subscribed.
  Status run(bool& established);

 private:
  enum class Phase { kConnack, kSuback, kReady };

  Status send_connect();
  // Reads once (the socket is readable or TLS holds bytes) and handles every complete packet.
  Status read_and_handle();
  Status handle_buffered();
  Status handle_packet(const MqttFixedHeader& h, ByteSpan body);
  Status handle_publish(const MqttPublish& p, std::size_t payload_bytes);
  Status protocol_error(MqttDecodeError e, std::string_view where);
  // Makes room for `need` bytes from begin_ (moving what is buffered to the front).
  void reserve(std::size_t need);
  Status flush();
  Status keepalive();
  int poll_timeout_ms() const;

  MqttSubscriber& owner_;
  const int failed_attempts_;
  const MqttSubscriberOptions& options_;
  std::unique_ptr<BrokerStream> stream_;
  const std::size_t max_packet_;
  Bytes in_;
  std::size_t begin_ = 0, end_ = 0;
  std::uint64_t skip_ = 0;  // bytes of an oversize PUBLISH still to read past
  bool read_filled_ = false;
  Bytes out_;
  Phase phase_ = Phase::kConnack;
  SteadyClock::time_point phase_deadline_;
  SteadyClock::time_point last_sent_;
  bool ping_outstanding_ = false;
  SteadyClock::time_point ping_sent_;
  bool* established_ = nullptr;
};

Status MqttSubscriber::Session::send_connect() {
  const MqttConnection& c = options_.connection;
  std::string password = c.password;
  if (!c.username.empty() && !c.password_file.empty()) {
    std::ifstream in(c.password_file);
    if (!in || !std::getline(in, password)) {
      return Status::unavailable("cannot read password_file " + c.password_file);
    }
  }
  MqttConnectFields f;
  f.client_id = c.client_id;
  f.clean_session = c.clean_session;
  f.keepalive_s = static_cast<std::uint16_t>(std::clamp(c.keepalive_s, 0, 65535));
  f.username = c.username;
  if (!c.username.empty()) f.password = password;
  ES_RETURN_IF_ERROR(encode_mqtt_connect(f, out_));
  return flush();
}

Status MqttSubscriber::Session::flush() {
  if (out_.empty()) return Status();
  Status s = stream_->write_all(ByteSpan(out_.data(), out_.size()), options_.write_timeout_ms);
  out_.clear();
  last_sent_ = SteadyClock::now();
  return s;
}

Status MqttSubscriber::Session::protocol_error(MqttDecodeError e, std::string_view where) {
  owner_.protocol_errors_.fetch_add(1, std::memory_order_relaxed);
  const auto i = static_cast<std::size_t>(e);
  if (i < kReasons) owner_.errors_by_reason_[i].fetch_add(1, std::memory_order_relaxed);
  return Status::corruption(
      "protocol error from the broker: " + std::string(mqtt_decode_error_name(e)) + " in " +
      std::string(where) + " (the connection is dropped and made again)");
}

void MqttSubscriber::Session::reserve(std::size_t need) {
  if (begin_ > 0) {
    std::memmove(in_.data(), in_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (in_.size() < need) in_.resize(need);
}

Status MqttSubscriber::Session::read_and_handle() {
  if (end_ == in_.size()) reserve(in_.size());
  const std::size_t room = in_.size() - end_;
  ES_ASSIGN_OR_RETURN(std::size_t n, stream_->read_some(in_.data() + end_, room));
  read_filled_ = n == room;
  if (n == 0) return Status();
  owner_.reads_.fetch_add(1, std::memory_order_relaxed);
  end_ += n;
  ES_RETURN_IF_ERROR(handle_buffered());
  return flush();
}

Status MqttSubscriber::Session::handle_buffered() {
  // At stop() the packets still buffered are left unhandled and unacknowledged: the broker
  // sends them again to the next connection of the session.
  while (begin_ < end_ && !owner_.stopping_.load(std::memory_order_acquire)) {
    if (skip_ > 0) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(skip_, end_ - begin_));
      begin_ += n;
      skip_ -= n;
      continue;
    }
    const ByteSpan avail(in_.data() + begin_, end_ - begin_);
    MqttFixedHeader h;
    if (MqttDecodeError e = read_mqtt_fixed_header(avail, h); e != MqttDecodeError::kNone) {
      return protocol_error(e, "a fixed header");
    }
    if (h.header_bytes == 0) break;
    const std::size_t total = h.header_bytes + std::size_t{h.remaining_length};
    if (h.remaining_length > max_packet_) {
      if (h.type != MqttPacketType::kPublish) {
        return protocol_error(MqttDecodeError::kOversize,
                              "a packet of " + std::to_string(total) + " bytes");
      }
      // Too large to hold: decode its head, then read past the rest.
      const std::size_t head =
          h.header_bytes + std::min<std::size_t>(h.remaining_length, kPublishHeadMax);
      if (avail.size() < head) {
        reserve(head);
        break;
      }
      MqttPublish p;
      const MqttDecodeError e =
          decode_mqtt_publish(h.flags, avail.subspan(h.header_bytes, head - h.header_bytes), p);
      if (e != MqttDecodeError::kNone) return protocol_error(e, "a PUBLISH");
      const std::size_t payload_bytes =
          h.remaining_length - (p.payload.data() - (avail.data() + h.header_bytes));
      ES_RETURN_IF_ERROR(handle_publish(p, payload_bytes));
      const std::size_t here = std::min(total, avail.size());
      begin_ += here;
      skip_ = total - here;
      continue;
    }
    if (avail.size() < total) {
      if (in_.size() - begin_ < total) reserve(total);
      break;
    }
    ES_RETURN_IF_ERROR(handle_packet(h, avail.subspan(h.header_bytes, h.remaining_length)));
    begin_ += total;
  }
  if (begin_ == end_) begin_ = end_ = 0;
  return Status();
}

Status MqttSubscriber::Session::handle_publish(const MqttPublish& p, std::size_t payload_bytes) {
  if (p.qos > 1) {
    // We subscribe at QoS 0 or 1; the broker must not send more ([MQTT-3.8.4-6]).
    return protocol_error(MqttDecodeError::kBadFlags, "a QoS 2 PUBLISH");
  }
  std::uint64_t hash = 0;
  const bool fits = payload_bytes <= options_.max_payload_bytes;
  if (p.qos == 1 && fits) {
    hash = XXH3_64bits_withSeed(p.payload.data(), p.payload.size(),
                                XXH3_64bits(p.topic.data(), p.topic.size()));
    if (p.dup) {
      auto it = owner_.handled_.find(p.packet_id);
      if (it != owner_.handled_.end() && it->second == hash) {
        // Handled on an earlier connection; only its PUBACK had not arrived.
        owner_.redeliveries_.fetch_add(1, std::memory_order_relaxed);
        encode_mqtt_puback(p.packet_id, out_);
        return Status();
      }
    }
  }
  try {
    if (!fits) {
      owner_.oversize_.fetch_add(1, std::memory_order_relaxed);
      if (owner_.on_oversize_) owner_.on_oversize_(p.topic, payload_bytes);
    } else {
      owner_.messages_.fetch_add(1, std::memory_order_relaxed);
      MqttMessage m;
      m.topic = p.topic;
      m.payload = p.payload;
      m.qos = p.qos;
      m.dup = p.dup;
      m.packet_id = p.packet_id;
      owner_.on_message_(m);
    }
  } catch (...) {
    owner_.handler_exceptions_.fetch_add(1, std::memory_order_relaxed);
  }
  // Only now, the handler having returned: the acknowledgement follows the message's handling.
  if (p.qos == 1) {
    encode_mqtt_puback(p.packet_id, out_);
    if (fits) owner_.remember_handled(p.packet_id, hash);
  }
  return Status();
}

Status MqttSubscriber::Session::handle_packet(const MqttFixedHeader& h, ByteSpan body) {
  switch (h.type) {
    case MqttPacketType::kPublish: {
      if (phase_ == Phase::kConnack)
        return protocol_error(MqttDecodeError::kBadPacketType, "a PUBLISH before CONNACK");
      MqttPublish p;
      if (MqttDecodeError e = decode_mqtt_publish(h.flags, body, p); e != MqttDecodeError::kNone) {
        return protocol_error(e, "a PUBLISH");
      }
      return handle_publish(p, p.payload.size());
    }
    case MqttPacketType::kConnack: {
      if (phase_ != Phase::kConnack)
        return protocol_error(MqttDecodeError::kBadPacketType, "a second CONNACK");
      MqttConnack a;
      if (MqttDecodeError e = decode_mqtt_connack(h.flags, body, a); e != MqttDecodeError::kNone) {
        return protocol_error(e, "CONNACK");
      }
      if (a.return_code != 0) {
        return Status::unavailable("the broker refused the connection: " +
                                   std::string(mqtt_connack_text(a.return_code)));
      }
      ES_RETURN_IF_ERROR(encode_mqtt_subscribe(kSubscribeId, options_.subscriptions, out_));
      phase_ = Phase::kSuback;
      phase_deadline_ =
          SteadyClock::now() + std::chrono::milliseconds(options_.connection.connect_timeout_ms);
      return Status();
    }
    case MqttPacketType::kSuback: {
      if (phase_ != Phase::kSuback)
        return protocol_error(MqttDecodeError::kBadPacketType, "an unexpected SUBACK");
      MqttSuback a;
      if (MqttDecodeError e = decode_mqtt_suback(h.flags, body, a); e != MqttDecodeError::kNone) {
        return protocol_error(e, "SUBACK");
      }
      if (a.packet_id != kSubscribeId || a.return_codes.size() != options_.subscriptions.size()) {
        return protocol_error(MqttDecodeError::kMalformed, "SUBACK (not our SUBSCRIBE's)");
      }
      for (std::size_t i = 0; i < a.return_codes.size(); ++i) {
        if (a.return_codes[i] == 0x80) {
          return Status::unavailable("the broker refused the subscription to '" +
                                     options_.subscriptions[i].topic_filter + "'");
        }
      }
      phase_ = Phase::kReady;
      *established_ = true;
      if (failed_attempts_ > 0) {
        spdlog::info("mqtt {}: connected to {} after {} failed attempts", options_.name,
                     options_.connection.uri, failed_attempts_);
      }
      owner_.connects_.fetch_add(1, std::memory_order_relaxed);
      owner_.connected_.store(true, std::memory_order_release);
      return Status();
    }
    case MqttPacketType::kPingresp: {
      if (MqttDecodeError e = decode_mqtt_pingresp(h.flags, body); e != MqttDecodeError::kNone) {
        return protocol_error(e, "PINGRESP");
      }
      ping_outstanding_ = false;
      return Status();
    }
    default:
      // PUBACK and the rest: a subscriber that publishes nothing receives none of them.
      return protocol_error(MqttDecodeError::kBadPacketType,
                            "a packet of type " + std::to_string(static_cast<int>(h.type)));
  }
}

Status MqttSubscriber::Session::keepalive() {
  const auto now = SteadyClock::now();
  if (phase_ != Phase::kReady && now >= phase_deadline_) {
    return Status::unavailable(std::string(phase_ == Phase::kConnack ? "CONNACK" : "SUBACK") +
                               ": no answer within " +
                               std::to_string(options_.connection.connect_timeout_ms) + " ms");
  }
  const int ka = options_.connection.keepalive_s;
  if (ka <= 0) return Status();
  const auto period = std::chrono::seconds(ka);
  if (ping_outstanding_) {
    if (now - ping_sent_ >= period) {
      return Status::unavailable("no PINGRESP within " + std::to_string(ka) + " s");
    }
    return Status();
  }
  if (now - last_sent_ >= period) {
    encode_mqtt_pingreq(out_);
    ping_outstanding_ = true;
    ping_sent_ = now;
    return flush();
  }
  return Status();
}

int MqttSubscriber::Session::poll_timeout_ms() const {
  std::int64_t t = 60'000;
  if (phase_ != Phase::kReady) t = std::min(t, ms_until(phase_deadline_));
  const int ka = options_.connection.keepalive_s;
  if (ka > 0) {
    const auto period = std::chrono::seconds(ka);
    t = std::min(t, ms_until(ping_outstanding_ ? ping_sent_ + period : last_sent_ + period));
  }
  return static_cast<int>(std::max<std::int64_t>(t, 0) + 1);
}

Status MqttSubscriber::Session::run(bool& established) {
  established_ = &established;
  phase_deadline_ =
      SteadyClock::now() + std::chrono::milliseconds(options_.connection.connect_timeout_ms);
  ES_RETURN_IF_ERROR(send_connect());
  while (!owner_.stopping_.load(std::memory_order_acquire)) {
    if (!read_filled_ && !stream_->has_pending()) {
      pollfd fds[2] = {{stream_->fd(), POLLIN, 0}, {owner_.wake_fd_, POLLIN, 0}};
      const int r = ::poll(fds, 2, poll_timeout_ms());
      if (r < 0 && errno != EINTR)
        return Status::unavailable(std::string("poll: ") + strerror(errno));
      if (r <= 0 || (fds[0].revents == 0)) {
        ES_RETURN_IF_ERROR(keepalive());
        continue;
      }
    }
    ES_RETURN_IF_ERROR(read_and_handle());
    ES_RETURN_IF_ERROR(keepalive());
  }
  // stop(): a DISCONNECT keeps the session and tells the broker the close is meant. Messages
  // read but not handled were not acknowledged: the broker sends them again.
  encode_mqtt_disconnect(out_);
  (void)stream_->write_all(ByteSpan(out_.data(), out_.size()), kDisconnectTimeoutMs);
  out_.clear();
  return Status();
}

Result<std::unique_ptr<MqttSubscriber>> MqttSubscriber::create(MqttSubscriberOptions options,
                                                               MessageHandler on_message,
                                                               OversizeHandler on_oversize) {
  const std::string who = "mqtt " + options.name + ": ";
  const MqttConnection& c = options.connection;
  if (!on_message) return Status::invalid_argument(who + "no message handler");
  if (c.client_id.empty()) {
    return Status::invalid_argument(who +
                                    "client_id is empty (set a stable, unique id: the "
                                    "persistent session is kept under it)");
  }
  auto address = parse_broker_uri(c.uri);
  if (!address.ok()) return Status::invalid_argument(who + address.status().message());
  if (!address->tls && (!c.ca_file.empty() || !c.cert_file.empty())) {
    return Status::invalid_argument(who + "TLS files are set but the broker uri '" + c.uri +
                                    "' is not ssl://");
  }
  if (c.cert_file.empty() != c.key_file.empty()) {
    return Status::invalid_argument(who + "a client certificate needs both cert_file and key_file");
  }
  if (options.subscriptions.empty()) return Status::invalid_argument(who + "no topic filter");
  Bytes probe;
  if (Status s = encode_mqtt_subscribe(kSubscribeId, options.subscriptions, probe); !s.ok()) {
    return Status::invalid_argument(who + s.message());
  }
  std::unique_ptr<MqttSubscriber> sub(
      new MqttSubscriber(std::move(options), std::move(on_message), std::move(on_oversize)));
  sub->wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (sub->wake_fd_ < 0) {
    return Status::io_error(who + "eventfd: " + std::string(strerror(errno)));
  }
  return sub;
}

MqttSubscriber::MqttSubscriber(MqttSubscriberOptions options, MessageHandler on_message,
                               OversizeHandler on_oversize)
    : options_(std::move(options)),
      on_message_(std::move(on_message)),
      on_oversize_(std::move(on_oversize)) {}

MqttSubscriber::~MqttSubscriber() {
  stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void MqttSubscriber::start() {
  if (thread_.joinable()) return;
  stopping_.store(false);
  std::uint64_t drain = 0;
  while (::read(wake_fd_, &drain, sizeof(drain)) > 0) {
  }
  thread_ = std::thread([this] { run(); });
}

void MqttSubscriber::stop() {
  stopping_.store(true, std::memory_order_release);
  const std::uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
}

void MqttSubscriber::run() {
  ::pthread_setname_np(::pthread_self(), "mqtt-subscribe");
  Backoff backoff(options_.connection.backoff);
  const MqttConnection& c = options_.connection;
  while (!stopping_.load()) {
    bool established = false;
    Status s;
    auto stream = BrokerStream::connect(c, c.connect_timeout_ms, stopping_);
    if (stream.ok()) {
      Session session(*this, std::move(*stream), backoff.failures());
      s = session.run(established);
      // Counted before the session closes its socket: a broker that sees the close sees the
      // stats already saying so.
      connected_.store(false, std::memory_order_release);
      if (established && !stopping_.load()) {
        connection_losses_.fetch_add(1, std::memory_order_relaxed);
      }
    } else {
      s = stream.status();
    }
    connected_.store(false, std::memory_order_release);
    if (stopping_.load()) break;
    if (established) {
      backoff.reset();
      spdlog::warn("mqtt {}: connection to {} lost: {}; reconnecting", options_.name, c.uri,
                   s.message());
    } else {
      connect_failures_.fetch_add(1, std::memory_order_relaxed);
    }
    const std::int64_t delay = backoff.next_delay_ms();
    if (!established) {
      // Log the first failure of an outage loudly, the rest quietly.
      if (backoff.failures() == 1) {
        spdlog::warn("mqtt {}: connect to {}: {}; retrying with backoff (next in {} ms)",
                     options_.name, c.uri, s.message(), delay);
      } else {
        spdlog::debug("mqtt {}: connect to {}: {}; next attempt in {} ms", options_.name, c.uri,
                      s.message(), delay);
      }
    }
    pollfd p{wake_fd_, POLLIN, 0};
    (void)::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(delay, 3'600'000)));
  }
}

void MqttSubscriber::remember_handled(std::uint16_t packet_id, std::uint64_t hash) {
  handled_[packet_id] = hash;
  handled_order_.emplace_back(packet_id, hash);
  if (handled_order_.size() > kHandledKept) {
    const auto [id, h] = handled_order_.front();
    handled_order_.pop_front();
    auto it = handled_.find(id);
    if (it != handled_.end() && it->second == h) handled_.erase(it);
  }
}

MqttSubscriberStats MqttSubscriber::stats() const {
  MqttSubscriberStats s;
  s.connects = connects_.load();
  s.connect_failures = connect_failures_.load();
  s.connection_losses = connection_losses_.load();
  s.messages = messages_.load();
  s.oversize = oversize_.load();
  s.handler_exceptions = handler_exceptions_.load();
  s.protocol_errors = protocol_errors_.load();
  s.reads = reads_.load();
  s.redeliveries = redeliveries_.load();
  return s;
}

std::uint64_t MqttSubscriber::protocol_errors(MqttDecodeError reason) const {
  const auto i = static_cast<std::size_t>(reason);
  return i < kReasons ? errors_by_reason_[i].load() : 0;
}

}  // namespace edgesketch::net
