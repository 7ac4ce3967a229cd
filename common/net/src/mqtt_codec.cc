// MQTT 3.1.1 packet codec: fixed header framing, the decoders of what a subscriber receives and
// the encoders of what it sends.
#include "edgesketch/net/mqtt_codec.h"

#include "edgesketch/common/utf8.h"

namespace edgesketch::net {
namespace {

constexpr std::size_t kMaxString = 65'535;

std::uint16_t be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((static_cast<unsigned>(p[0]) << 8) | p[1]);
}

void put_be16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xff));
}

void put_mqtt_string(Bytes& out, std::string_view s) {
  put_be16(out, static_cast<std::uint16_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

// Appends the fixed header of a packet whose remaining length is `length` (≤ the maximum).
void put_fixed_header(Bytes& out, std::uint8_t first, std::size_t length) {
  out.push_back(first);
  do {
    std::uint8_t b = length & 0x7f;
    length >>= 7;
    if (length > 0) b |= 0x80;
    out.push_back(b);
  } while (length > 0);
}

Status check_string(std::string_view what, std::string_view s) {
  if (s.size() > kMaxString) {
    return Status::invalid_argument("mqtt: " + std::string(what) + " is " +
                                    std::to_string(s.size()) +
                                    " bytes; MQTT strings hold at most 65,535");
  }
  return Status();
}

// A topic filter: non-empty valid UTF-8 without U+0000; '#' only as the last level, '+' only as
// a whole level ([MQTT-4.7.1-2], [MQTT-4.7.1-3]).
Status check_topic_filter(std::string_view f) {
  ES_RETURN_IF_ERROR(check_string("topic filter", f));
  if (f.empty()) return Status::invalid_argument("mqtt: empty topic filter");
  for (std::size_t i = 0; i < f.size();) {
    const Utf8Rune r = decode_utf8(f, i);
    if (r.cp <= 0) {
      return Status::invalid_argument("mqtt: topic filter '" + std::string(f) +
                                      "' is not valid UTF-8 or holds U+0000");
    }
    i += r.len;
  }
  for (std::size_t i = 0; i < f.size(); ++i) {
    const bool level_start = i == 0 || f[i - 1] == '/';
    const bool level_end = i + 1 == f.size() || f[i + 1] == '/';
    if ((f[i] == '+' && !(level_start && level_end)) ||
        (f[i] == '#' && !(level_start && i + 1 == f.size()))) {
      return Status::invalid_argument("mqtt: topic filter '" + std::string(f) +
                                      "' has a wildcard inside a level ('+' and '#' stand alone, "
                                      "'#' last)");
    }
  }
  return Status();
}

}  // namespace

std::string_view mqtt_decode_error_name(MqttDecodeError e) {
  switch (e) {
    case MqttDecodeError::kNone:
      return "none";
    case MqttDecodeError::kBadRemainingLength:
      return "bad_remaining_length";
    case MqttDecodeError::kOversize:
      return "oversize";
    case MqttDecodeError::kBadPacketType:
      return "bad_packet_type";
    case MqttDecodeError::kBadFlags:
      return "bad_flags";
    case MqttDecodeError::kMalformed:
      return "malformed";
    case MqttDecodeError::kBadTopic:
      return "bad_topic";
    case MqttDecodeError::kBadPacketId:
      return "bad_packet_id";
    case MqttDecodeError::kBadReturnCode:
      return "bad_return_code";
  }
  return "unknown";
}

MqttDecodeError read_mqtt_fixed_header(ByteSpan in, MqttFixedHeader& out) {
  out.header_bytes = 0;
  if (in.empty()) return MqttDecodeError::kNone;
  const std::uint8_t type = in[0] >> 4;
  if (type == 0 || type == 15) return MqttDecodeError::kBadPacketType;
  std::uint32_t length = 0;
  for (std::size_t i = 1; i <= 4; ++i) {
    if (i >= in.size()) return MqttDecodeError::kNone;  // more bytes needed
    const std::uint8_t b = in[i];
    length |= static_cast<std::uint32_t>(b & 0x7f) << (7 * (i - 1));
    if ((b & 0x80) == 0) {
      out.type = static_cast<MqttPacketType>(type);
      out.flags = in[0] & 0x0f;
      out.header_bytes = i + 1;
      out.remaining_length = length;
      return MqttDecodeError::kNone;
    }
  }
  return MqttDecodeError::kBadRemainingLength;
}

MqttDecodeError validate_mqtt_topic_name(std::string_view topic) {
  if (topic.empty()) return MqttDecodeError::kBadTopic;
  for (std::size_t i = 0; i < topic.size();) {
    const unsigned char c = static_cast<unsigned char>(topic[i]);
    if (c < 0x80) {
      if (c == 0 || c == '+' || c == '#') return MqttDecodeError::kBadTopic;
      ++i;
      continue;
    }
    const Utf8Rune r = decode_utf8(topic, i);
    if (r.cp < 0) return MqttDecodeError::kBadTopic;
    i += r.len;
  }
  return MqttDecodeError::kNone;
}

MqttDecodeError decode_mqtt_publish(std::uint8_t flags, ByteSpan body, MqttPublish& out) {
  out.dup = (flags & 0x08) != 0;
  out.qos = (flags >> 1) & 0x03;
  out.retain = (flags & 0x01) != 0;
  if (out.qos == 3) return MqttDecodeError::kBadFlags;
  if (out.qos == 0 && out.dup) return MqttDecodeError::kBadFlags;  // [MQTT-3.3.1-2]
  if (body.size() < 2) return MqttDecodeError::kMalformed;
  const std::size_t topic_len = be16(body.data());
  std::size_t pos = 2 + topic_len;
  if (pos > body.size()) return MqttDecodeError::kMalformed;
  out.topic = std::string_view(reinterpret_cast<const char*>(body.data()) + 2, topic_len);
  if (validate_mqtt_topic_name(out.topic) != MqttDecodeError::kNone) {
    return MqttDecodeError::kBadTopic;
  }
  out.packet_id = 0;
  if (out.qos > 0) {
    if (pos + 2 > body.size()) return MqttDecodeError::kMalformed;
    out.packet_id = be16(body.data() + pos);
    if (out.packet_id == 0) return MqttDecodeError::kBadPacketId;  // [MQTT-2.3.1-1]
    pos += 2;
  }
  out.payload = body.subspan(pos);
  return MqttDecodeError::kNone;
}

MqttDecodeError decode_mqtt_connack(std::uint8_t flags, ByteSpan body, MqttConnack& out) {
  if (flags != 0) return MqttDecodeError::kBadFlags;
  if (body.size() != 2) return MqttDecodeError::kMalformed;
  if ((body[0] & 0xfe) != 0) return MqttDecodeError::kBadFlags;  // reserved ack flags
  if (body[1] > 5) return MqttDecodeError::kBadReturnCode;
  out.session_present = (body[0] & 0x01) != 0;
  out.return_code = body[1];
  // [MQTT-3.2.2-4]: a refusal never claims a session.
  if (out.return_code != 0 && out.session_present) return MqttDecodeError::kBadFlags;
  return MqttDecodeError::kNone;
}

std::string_view mqtt_connack_text(std::uint8_t return_code) {
  switch (return_code) {
    case 0:
      return "accepted";
    case 1:
      return "unacceptable protocol version";
    case 2:
      return "client identifier rejected";
    case 3:
      return "server unavailable";
    case 4:
      return "bad user name or password";
    case 5:
      return "not authorized";
  }
  return "unknown return code";
}

MqttDecodeError decode_mqtt_suback(std::uint8_t flags, ByteSpan body, MqttSuback& out) {
  if (flags != 0) return MqttDecodeError::kBadFlags;
  if (body.size() < 3) return MqttDecodeError::kMalformed;
  out.packet_id = be16(body.data());
  if (out.packet_id == 0) return MqttDecodeError::kBadPacketId;
  out.return_codes = body.subspan(2);
  for (std::uint8_t rc : out.return_codes) {
    if (rc > 2 && rc != 0x80) return MqttDecodeError::kBadReturnCode;
  }
  return MqttDecodeError::kNone;
}

MqttDecodeError decode_mqtt_puback(std::uint8_t flags, ByteSpan body, std::uint16_t& packet_id) {
  if (flags != 0) return MqttDecodeError::kBadFlags;
  if (body.size() != 2) return MqttDecodeError::kMalformed;
  packet_id = be16(body.data());
  if (packet_id == 0) return MqttDecodeError::kBadPacketId;
  return MqttDecodeError::kNone;
}

MqttDecodeError decode_mqtt_pingresp(std::uint8_t flags, ByteSpan body) {
  if (flags != 0) return MqttDecodeError::kBadFlags;
  if (!body.empty()) return MqttDecodeError::kMalformed;
  return MqttDecodeError::kNone;
}

Status encode_mqtt_connect(const MqttConnectFields& f, Bytes& out) {
  ES_RETURN_IF_ERROR(check_string("client id", f.client_id));
  ES_RETURN_IF_ERROR(check_string("user name", f.username));
  ES_RETURN_IF_ERROR(check_string("password", f.password));
  const bool user = !f.username.empty();
  std::size_t length = 10 + 2 + f.client_id.size();
  if (user) length += 2 + f.username.size() + 2 + f.password.size();
  std::uint8_t connect_flags = f.clean_session ? 0x02 : 0x00;
  if (user) connect_flags |= 0xc0;  // user name and password
  put_fixed_header(out, 0x10, length);
  put_mqtt_string(out, "MQTT");
  out.push_back(4);  // protocol level: 3.1.1
  out.push_back(connect_flags);
  put_be16(out, f.keepalive_s);
  put_mqtt_string(out, f.client_id);
  if (user) {
    put_mqtt_string(out, f.username);
    put_mqtt_string(out, f.password);
  }
  return Status();
}

Status encode_mqtt_subscribe(std::uint16_t packet_id, std::span<const MqttSubscription> filters,
                             Bytes& out) {
  if (packet_id == 0) return Status::invalid_argument("mqtt: SUBSCRIBE needs a packet id");
  if (filters.empty()) return Status::invalid_argument("mqtt: SUBSCRIBE needs a topic filter");
  std::size_t length = 2;
  for (const MqttSubscription& s : filters) {
    ES_RETURN_IF_ERROR(check_topic_filter(s.topic_filter));
    if (s.qos != 0 && s.qos != 1) {
      return Status::invalid_argument("mqtt: qos of '" + s.topic_filter + "' must be 0 or 1");
    }
    length += 2 + s.topic_filter.size() + 1;
  }
  if (length > kMqttMaxRemainingLength) {
    return Status::invalid_argument("mqtt: SUBSCRIBE too large");
  }
  put_fixed_header(out, 0x82, length);  // reserved flags 0010 [MQTT-3.8.1-1]
  put_be16(out, packet_id);
  for (const MqttSubscription& s : filters) {
    put_mqtt_string(out, s.topic_filter);
    out.push_back(static_cast<std::uint8_t>(s.qos));
  }
  return Status();
}

Status encode_mqtt_publish(std::string_view topic, ByteSpan payload, int qos, bool dup, bool retain,
                           std::uint16_t packet_id, Bytes& out) {
  ES_RETURN_IF_ERROR(check_string("topic", topic));
  if (validate_mqtt_topic_name(topic) != MqttDecodeError::kNone) {
    return Status::invalid_argument("mqtt: topic name '" + std::string(topic) +
                                    "' is empty, not valid UTF-8, or holds U+0000 or a wildcard");
  }
  if (qos != 0 && qos != 1) return Status::invalid_argument("mqtt: publish qos must be 0 or 1");
  if ((qos == 0) != (packet_id == 0)) {
    return Status::invalid_argument("mqtt: a QoS 1 PUBLISH needs a packet id, QoS 0 none");
  }
  if (qos == 0 && dup) return Status::invalid_argument("mqtt: DUP is for QoS 1 only");
  const std::size_t length = 2 + topic.size() + (qos > 0 ? 2 : 0) + payload.size();
  if (length > kMqttMaxRemainingLength) {
    return Status::invalid_argument("mqtt: a " + std::to_string(payload.size()) +
                                    " byte payload passes MQTT's packet limit");
  }
  std::uint8_t first = 0x30 | static_cast<std::uint8_t>(qos << 1);
  if (dup) first |= 0x08;
  if (retain) first |= 0x01;
  put_fixed_header(out, first, length);
  put_mqtt_string(out, topic);
  if (qos > 0) put_be16(out, packet_id);
  out.insert(out.end(), payload.begin(), payload.end());
  return Status();
}

void encode_mqtt_puback(std::uint16_t packet_id, Bytes& out) {
  out.push_back(0x40);
  out.push_back(2);
  put_be16(out, packet_id);
}

void encode_mqtt_pingreq(Bytes& out) {
  out.push_back(0xc0);
  out.push_back(0);
}

void encode_mqtt_disconnect(Bytes& out) {
  out.push_back(0xe0);
  out.push_back(0);
}

}  // namespace edgesketch::net
