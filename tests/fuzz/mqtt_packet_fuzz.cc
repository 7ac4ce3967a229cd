// Fuzz target for the MQTT 3.1.1 codec (net/mqtt_codec.h): the input is a byte stream as a
// broker would send it. Every packet is either refused with a named reason or framed and
// decoded into views inside the input; a decoded PUBLISH encodes back to the same bytes when
// it is one the subscriber can receive.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "edgesketch/net/mqtt_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace edgesketch;
  using namespace edgesketch::net;
  auto check = [](bool ok) {
    if (!ok) std::abort();
  };
  const ByteSpan in(data, size);
  auto inside = [&](ByteSpan v) {
    return v.empty() || (v.data() >= data && v.data() + v.size() <= data + size);
  };
  std::size_t pos = 0;
  while (pos < size) {
    MqttFixedHeader h;
    const MqttDecodeError e = read_mqtt_fixed_header(in.subspan(pos), h);
    if (e != MqttDecodeError::kNone) {
      check(mqtt_decode_error_name(e) != "unknown");
      return 0;
    }
    if (h.header_bytes == 0) return 0;  // more bytes needed
    check(h.header_bytes >= 2 && h.header_bytes <= 5);
    check(h.remaining_length <= kMqttMaxRemainingLength);
    if (size - pos - h.header_bytes < h.remaining_length) return 0;
    const ByteSpan body = in.subspan(pos + h.header_bytes, h.remaining_length);
    MqttDecodeError r = MqttDecodeError::kNone;
    switch (h.type) {
      case MqttPacketType::kPublish: {
        MqttPublish p;
        r = decode_mqtt_publish(h.flags, body, p);
        if (r != MqttDecodeError::kNone) break;
        check(inside(p.payload));
        check(p.topic.data() >= reinterpret_cast<const char*>(data) &&
              p.topic.data() + p.topic.size() <= reinterpret_cast<const char*>(data) + size);
        check(p.qos >= 0 && p.qos <= 2 && (p.qos == 0) == (p.packet_id == 0));
        if (p.qos <= 1 && h.remaining_length < 65536) {
          Bytes again;
          check(encode_mqtt_publish(p.topic, p.payload, p.qos, p.dup, p.retain, p.packet_id, again)
                    .ok());
          Bytes original(data + pos, data + pos + h.header_bytes + h.remaining_length);
          // Only the remaining length's encoding may differ (a longer, non-minimal form).
          check(again.size() <= original.size());
          check(again[0] == original[0]);
        }
        break;
      }
      case MqttPacketType::kConnack: {
        MqttConnack a;
        r = decode_mqtt_connack(h.flags, body, a);
        if (r == MqttDecodeError::kNone) check(a.return_code <= 5);
        break;
      }
      case MqttPacketType::kSuback: {
        MqttSuback s;
        r = decode_mqtt_suback(h.flags, body, s);
        if (r == MqttDecodeError::kNone) check(inside(s.return_codes) && s.packet_id != 0);
        break;
      }
      case MqttPacketType::kPuback: {
        std::uint16_t id = 0;
        r = decode_mqtt_puback(h.flags, body, id);
        if (r == MqttDecodeError::kNone) check(id != 0);
        break;
      }
      case MqttPacketType::kPingresp:
        r = decode_mqtt_pingresp(h.flags, body);
        break;
      default:
        break;
    }
    if (r != MqttDecodeError::kNone) {
      check(mqtt_decode_error_name(r) != "unknown");
      return 0;
    }
    pos += h.header_bytes + h.remaining_length;
  }
  return 0;
}
