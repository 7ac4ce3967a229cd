// MQTT 3.1.1 packet codec for edgesketch's own subscriber client (net/mqtt_subscriber.h): the
// packets a QoS 0/1 subscriber sends (CONNECT, SUBSCRIBE, PUBLISH, PUBACK, PINGREQ, DISCONNECT)
// and the ones it reads (CONNACK, SUBACK, PUBLISH, PUBACK, PINGRESP). No I/O.
//
// Byte layout (OASIS MQTT 3.1.1, section 2): a fixed header, one byte of packet type (high
// nibble) and flags (low nibble), then the remaining length as 1 to 4 bytes of base-128 varint
// (7 bits each, least significant group first, high bit = more), then that many bytes of
// variable header and payload. Integers in the variable header are big-endian 16-bit; strings
// are a 16-bit big-endian length followed by UTF-8 bytes.
//
// The decoders treat their input as hostile: every length is checked against the bytes
// present, nothing is allocated, views point into the input, and each refusal has a stable
// reason (mqtt_decode_error_name) that the client counts. Topic names must be valid UTF-8 by
// Go's rules (edgesketch/common/utf8.h), without U+0000 and without wildcards
// ([MQTT-1.5.3-1], [MQTT-1.5.3-2], [MQTT-3.3.2-2]).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/common/status.h"
#include "edgesketch/net/mqtt_connection.h"

namespace edgesketch::net {

enum class MqttPacketType : std::uint8_t {
  kConnect = 1,
  kConnack = 2,
  kPublish = 3,
  kPuback = 4,
  kPubrec = 5,
  kPubrel = 6,
  kPubcomp = 7,
  kSubscribe = 8,
  kSuback = 9,
  kUnsubscribe = 10,
  kUnsuback = 11,
  kPingreq = 12,
  kPingresp = 13,
  kDisconnect = 14,
};

// Why bytes were refused. kNone: accepted.
enum class MqttDecodeError : std::uint8_t {
  kNone = 0,
  kBadRemainingLength,  // a 5th length byte, or a non-minimal encoding's overflow
  kOversize,            // a packet above the client's bound (max_payload_bytes plus headers)
  kBadPacketType,       // type 0 or 15, or a type a subscriber never receives
  kBadFlags,            // reserved fixed-header flags, QoS 3, DUP on QoS 0
  kMalformed,           // a length inside the packet runs past its end, or bytes are left over
  kBadTopic,            // empty, invalid UTF-8, U+0000 or a wildcard in a PUBLISH topic name
  kBadPacketId,         // packet identifier 0
  kBadReturnCode,       // a CONNACK or SUBACK return code outside the standard's values
};

// Stable snake_case name of `e` ("bad_remaining_length", …) for logs and metric labels.
std::string_view mqtt_decode_error_name(MqttDecodeError e);

// The fixed header at the front of a byte stream.
struct MqttFixedHeader {
  MqttPacketType type = MqttPacketType::kConnect;
  std::uint8_t flags = 0;              // low nibble of the first byte
  std::size_t header_bytes = 0;        // 2..5; 0: more bytes are needed to know
  std::uint32_t remaining_length = 0;  // bytes after the fixed header (≤ 268,435,455)
};

// Reads the fixed header at the front of `in`. kNone with out.header_bytes == 0 when `in` ends
// inside it; kBadRemainingLength when the length would take a 5th byte; kBadPacketType for type
// 0 or 15. The caller bounds remaining_length (kOversize is its decision).
MqttDecodeError read_mqtt_fixed_header(ByteSpan in, MqttFixedHeader& out);

// A received PUBLISH; the views point into the decoded bytes.
struct MqttPublish {
  std::string_view topic;
  ByteSpan payload;
  int qos = 0;
  bool dup = false;
  bool retain = false;
  std::uint16_t packet_id = 0;  // QoS 1 and 2 only; never 0 then
};

// Decodes a PUBLISH from its fixed-header `flags` and `body` (the remaining_length bytes). The
// body may also be a prefix of the packet (a PUBLISH too large to hold): the topic and packet id
// must be inside it, and `payload` is what of the payload it holds.
MqttDecodeError decode_mqtt_publish(std::uint8_t flags, ByteSpan body, MqttPublish& out);

struct MqttConnack {
  bool session_present = false;
  // 0 accepted; 1 unacceptable protocol version, 2 identifier rejected, 3 server unavailable,
  // 4 bad user name or password, 5 not authorized.
  std::uint8_t return_code = 0;
};
MqttDecodeError decode_mqtt_connack(std::uint8_t flags, ByteSpan body, MqttConnack& out);
// Text for a CONNACK return code ("bad user name or password").
std::string_view mqtt_connack_text(std::uint8_t return_code);

struct MqttSuback {
  std::uint16_t packet_id = 0;
  // One per topic filter of the SUBSCRIBE: 0x00, 0x01, 0x02 (granted QoS) or 0x80 (failure);
  // a view into the body.
  ByteSpan return_codes;
};
MqttDecodeError decode_mqtt_suback(std::uint8_t flags, ByteSpan body, MqttSuback& out);

// PUBACK (and the other packets that carry only a packet id).
MqttDecodeError decode_mqtt_puback(std::uint8_t flags, ByteSpan body, std::uint16_t& packet_id);
// PINGRESP: no flags, no body.
MqttDecodeError decode_mqtt_pingresp(std::uint8_t flags, ByteSpan body);

// Checks a PUBLISH topic name: non-empty, valid UTF-8, no U+0000, no '+' or '#'.
MqttDecodeError validate_mqtt_topic_name(std::string_view topic);

struct MqttConnectFields {
  std::string_view client_id;
  bool clean_session = false;
  std::uint16_t keepalive_s = 0;
  std::string_view username;  // empty: no user name (nor password)
  std::string_view password;  // sent only with a user name
};

// The encoders append one packet to `out`. kInvalidArgument when a string is longer than 65,535
// bytes, a topic name or filter is empty or invalid, a QoS is not 0 or 1, a packet id is 0 where
// one is needed, or the packet would pass the protocol's 268,435,455-byte limit.
Status encode_mqtt_connect(const MqttConnectFields& f, Bytes& out);
Status encode_mqtt_subscribe(std::uint16_t packet_id, std::span<const MqttSubscription> filters,
                             Bytes& out);
// packet_id is ignored (and must be 0) for QoS 0.
Status encode_mqtt_publish(std::string_view topic, ByteSpan payload, int qos, bool dup, bool retain,
                           std::uint16_t packet_id, Bytes& out);
void encode_mqtt_puback(std::uint16_t packet_id, Bytes& out);
void encode_mqtt_pingreq(Bytes& out);
void encode_mqtt_disconnect(Bytes& out);

// The largest remaining length MQTT can encode (4 length bytes).
inline constexpr std::uint32_t kMqttMaxRemainingLength = 268'435'455;

}  // namespace edgesketch::net
