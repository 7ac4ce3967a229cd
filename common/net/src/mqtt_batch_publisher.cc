// MqttBatchPublisher: CONNECT / CONNACK, then queued QoS 0 PUBLISH packets written in batches.
#include "edgesketch/net/mqtt_batch_publisher.h"

#include <poll.h>

#include <algorithm>
#include <atomic>

#include "broker_stream.h"
#include "edgesketch/net/mqtt_codec.h"

namespace edgesketch::net {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Reads one complete packet into `in` (which may already hold bytes), waiting up to the
// deadline. kUnavailable on time out or a closed connection, kCorruption for bad bytes.
Status read_packet(BrokerStream& s, Bytes& in, SteadyClock::time_point deadline,
                   MqttFixedHeader& h) {
  std::uint8_t buf[256];
  for (;;) {
    if (MqttDecodeError e = read_mqtt_fixed_header(ByteSpan(in.data(), in.size()), h);
        e != MqttDecodeError::kNone) {
      return Status::corruption("protocol error from the broker: " +
                                std::string(mqtt_decode_error_name(e)));
    }
    if (h.header_bytes > 0 && h.remaining_length > sizeof(buf)) {
      return Status::corruption("protocol error from the broker: a packet of " +
                                std::to_string(h.remaining_length) + " bytes");
    }
    if (h.header_bytes > 0 && in.size() >= h.header_bytes + h.remaining_length) return Status();
    ES_ASSIGN_OR_RETURN(std::size_t n, s.read_some(buf, sizeof(buf)));
    if (n > 0) {
      in.insert(in.end(), buf, buf + n);
      continue;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now())
            .count();
    if (left <= 0) return Status::unavailable("CONNACK: no answer in time");
    if (!s.has_pending()) {
      pollfd p{s.fd(), POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(left));
    }
  }
}

}  // namespace

Result<std::unique_ptr<MqttBatchPublisher>> MqttBatchPublisher::connect(
    MqttBatchPublisherOptions options) {
  const MqttConnection& c = options.connection;
  if (c.client_id.empty()) return Status::invalid_argument("mqtt: empty client id");
  ES_RETURN_IF_ERROR(parse_broker_uri(c.uri).status());
  static const std::atomic<bool> kNeverStop{false};
  ES_ASSIGN_OR_RETURN(auto stream, BrokerStream::connect(c, c.connect_timeout_ms, kNeverStop));
  const auto deadline = SteadyClock::now() + std::chrono::milliseconds(c.connect_timeout_ms);
  Bytes out;
  MqttConnectFields f;
  f.client_id = c.client_id;
  f.clean_session = c.clean_session;
  f.keepalive_s = static_cast<std::uint16_t>(std::clamp(c.keepalive_s, 0, 65535));
  f.username = c.username;
  if (!c.username.empty()) f.password = c.password;
  ES_RETURN_IF_ERROR(encode_mqtt_connect(f, out));
  ES_RETURN_IF_ERROR(stream->write_all(ByteSpan(out.data(), out.size()), options.write_timeout_ms));
  Bytes in;
  MqttFixedHeader h;
  ES_RETURN_IF_ERROR(read_packet(*stream, in, deadline, h));
  MqttConnack a;
  if (h.type != MqttPacketType::kConnack ||
      decode_mqtt_connack(h.flags, ByteSpan(in).subspan(h.header_bytes, h.remaining_length), a) !=
          MqttDecodeError::kNone) {
    return Status::corruption("protocol error from the broker: no valid CONNACK");
  }
  if (a.return_code != 0) {
    return Status::unavailable("the broker refused the connection: " +
                               std::string(mqtt_connack_text(a.return_code)));
  }
  in.erase(in.begin(),
           in.begin() + static_cast<std::ptrdiff_t>(h.header_bytes + h.remaining_length));
  std::unique_ptr<MqttBatchPublisher> p(
      new MqttBatchPublisher(std::move(options), std::move(stream)));
  p->in_ = std::move(in);
  return p;
}

MqttBatchPublisher::MqttBatchPublisher(MqttBatchPublisherOptions options,
                                       std::unique_ptr<BrokerStream> stream)
    : options_(std::move(options)), stream_(std::move(stream)), last_write_(SteadyClock::now()) {
  queue_.reserve(options_.batch_bytes + 1024);
}

MqttBatchPublisher::~MqttBatchPublisher() { (void)close(); }

Status MqttBatchPublisher::fail(Status s) {
  stream_.reset();
  queue_.clear();
  return s;
}

Status MqttBatchPublisher::publish(std::string_view topic, ByteSpan payload) {
  if (!stream_) return Status::unavailable("mqtt: not connected to " + options_.connection.uri);
  ES_RETURN_IF_ERROR(encode_mqtt_publish(topic, payload, 0, false, false, 0, queue_));
  if (queue_.size() >= options_.batch_bytes) return write_queue();
  return Status();
}

Status MqttBatchPublisher::write_queue() {
  if (queue_.empty()) return Status();
  Status s = stream_->write_all(ByteSpan(queue_.data(), queue_.size()), options_.write_timeout_ms);
  if (!s.ok()) return fail(s);
  queue_.clear();
  last_write_ = SteadyClock::now();
  return Status();
}

Status MqttBatchPublisher::read_answers() {
  // A QoS 0 publisher is sent nothing but PINGRESP; anything else is a protocol error.
  std::uint8_t buf[256];
  for (;;) {
    auto n = stream_->read_some(buf, sizeof(buf));
    if (!n.ok()) return fail(n.status());
    if (*n == 0) break;
    in_.insert(in_.end(), buf, buf + *n);
  }
  for (;;) {
    MqttFixedHeader h;
    if (read_mqtt_fixed_header(ByteSpan(in_.data(), in_.size()), h) != MqttDecodeError::kNone ||
        (h.header_bytes > 0 && h.type != MqttPacketType::kPingresp)) {
      return fail(Status::corruption("protocol error from the broker: not a PINGRESP"));
    }
    if (h.header_bytes == 0 || in_.size() < h.header_bytes + h.remaining_length) break;
    if (decode_mqtt_pingresp(h.flags, ByteSpan(in_).subspan(h.header_bytes, h.remaining_length)) !=
        MqttDecodeError::kNone) {
      return fail(Status::corruption("protocol error from the broker: bad PINGRESP"));
    }
    ping_outstanding_ = false;
    in_.erase(in_.begin(),
              in_.begin() + static_cast<std::ptrdiff_t>(h.header_bytes + h.remaining_length));
  }
  return Status();
}

Status MqttBatchPublisher::flush() {
  if (!stream_) return Status::unavailable("mqtt: not connected to " + options_.connection.uri);
  ES_RETURN_IF_ERROR(read_answers());
  const int ka = options_.connection.keepalive_s;
  const auto now = SteadyClock::now();
  if (ka > 0) {
    if (ping_outstanding_ && now - ping_sent_ >= std::chrono::seconds(ka)) {
      return fail(Status::unavailable("mqtt: no PINGRESP within " + std::to_string(ka) + " s"));
    }
    if (!ping_outstanding_ && queue_.empty() && now - last_write_ >= std::chrono::seconds(ka) / 2) {
      encode_mqtt_pingreq(queue_);
      ping_outstanding_ = true;
      ping_sent_ = now;
    }
  }
  return write_queue();
}

Status MqttBatchPublisher::close() {
  if (!stream_) return Status();
  Status s = write_queue();
  if (stream_) {
    Bytes out;
    encode_mqtt_disconnect(out);
    (void)stream_->write_all(ByteSpan(out.data(), out.size()), options_.write_timeout_ms);
    stream_.reset();
  }
  return s;
}

}  // namespace edgesketch::net
