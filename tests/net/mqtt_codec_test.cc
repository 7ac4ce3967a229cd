// The MQTT 3.1.1 codec: golden bytes of every packet the subscriber sends and reads (checked
// against the OASIS standard's layouts), and malformed or oversized input refused with its named
// reason.
#include "edgesketch/net/mqtt_codec.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace edgesketch::net {
namespace {

Bytes bytes(std::initializer_list<int> v) {
  Bytes b;
  for (int x : v) b.push_back(static_cast<std::uint8_t>(x));
  return b;
}

ByteSpan span(const Bytes& b) { return ByteSpan(b.data(), b.size()); }

ByteSpan text(std::string_view s) {
  return ByteSpan(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

// The fixed header of `packet`, which must be complete and exactly as long as it says.
MqttFixedHeader header_of(const Bytes& packet) {
  MqttFixedHeader h;
  EXPECT_EQ(read_mqtt_fixed_header(span(packet), h), MqttDecodeError::kNone);
  EXPECT_EQ(h.header_bytes + h.remaining_length, packet.size());
  return h;
}

TEST(MqttCodecTest, ConnectGoldenBytes) {
  Bytes out;
  MqttConnectFields f;
  f.client_id = "gw";
  f.keepalive_s = 30;
  ASSERT_TRUE(encode_mqtt_connect(f, out).ok());
  // 0x10, length 14; "MQTT", level 4, flags 0 (persistent session, no user), keep-alive 30, "gw".
  EXPECT_EQ(out, bytes({0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x00, 0, 30, 0, 2, 'g', 'w'}));

  out.clear();
  f.clean_session = true;
  f.username = "u";
  f.password = "pw";
  ASSERT_TRUE(encode_mqtt_connect(f, out).ok());
  // Flags: user name 0x80, password 0x40, clean session 0x02.
  EXPECT_EQ(out, bytes({0x10, 21, 0,   4,   'M', 'Q', 'T', 'T', 4, 0xc2, 0,  30,
                        0,    2,  'g', 'w', 0,   1,   'u', 0,   2, 'p',  'w'}));
}

TEST(MqttCodecTest, SubscribeGoldenBytes) {
  Bytes out;
  const std::vector<MqttSubscription> subs = {{"a/+", 1}, {"#", 0}};
  ASSERT_TRUE(encode_mqtt_subscribe(7, subs, out).ok());
  EXPECT_EQ(out, bytes({0x82, 12, 0, 7, 0, 3, 'a', '/', '+', 1, 0, 1, '#', 0}));
}

TEST(MqttCodecTest, PublishGoldenBytesRoundTrip) {
  Bytes out;
  ASSERT_TRUE(encode_mqtt_publish("t/1", text("hi"), 0, false, false, 0, out).ok());
  EXPECT_EQ(out, bytes({0x30, 7, 0, 3, 't', '/', '1', 'h', 'i'}));

  out.clear();
  ASSERT_TRUE(encode_mqtt_publish("t/1", text("hi"), 1, true, true, 0x1234, out).ok());
  EXPECT_EQ(out, bytes({0x3b, 9, 0, 3, 't', '/', '1', 0x12, 0x34, 'h', 'i'}));
  const MqttFixedHeader h = header_of(out);
  EXPECT_EQ(h.type, MqttPacketType::kPublish);
  MqttPublish p;
  ASSERT_EQ(decode_mqtt_publish(h.flags, span(out).subspan(h.header_bytes), p),
            MqttDecodeError::kNone);
  EXPECT_EQ(p.topic, "t/1");
  EXPECT_EQ(std::string(p.payload.begin(), p.payload.end()), "hi");
  EXPECT_EQ(p.qos, 1);
  EXPECT_TRUE(p.dup);
  EXPECT_TRUE(p.retain);
  EXPECT_EQ(p.packet_id, 0x1234);
}

TEST(MqttCodecTest, RemainingLengthTakesUpToFourBytes) {
  // The standard's boundaries (table 2.4): 127 / 128, 16,383 / 16,384, 2,097,151 / 2,097,152.
  const std::pair<std::uint32_t, Bytes> cases[] = {
      {0, bytes({0x00})},
      {127, bytes({0x7f})},
      {128, bytes({0x80, 0x01})},
      {16'383, bytes({0xff, 0x7f})},
      {16'384, bytes({0x80, 0x80, 0x01})},
      {2'097'151, bytes({0xff, 0xff, 0x7f})},
      {2'097'152, bytes({0x80, 0x80, 0x80, 0x01})},
      {268'435'455, bytes({0xff, 0xff, 0xff, 0x7f})},
  };
  for (const auto& [length, encoded] : cases) {
    Bytes in = {0x30};
    in.insert(in.end(), encoded.begin(), encoded.end());
    MqttFixedHeader h;
    ASSERT_EQ(read_mqtt_fixed_header(span(in), h), MqttDecodeError::kNone);
    EXPECT_EQ(h.header_bytes, in.size()) << length;
    EXPECT_EQ(h.remaining_length, length);
    // One byte short: more is needed, nothing refused.
    Bytes cut(in.begin(), in.end() - 1);
    ASSERT_EQ(read_mqtt_fixed_header(span(cut), h), MqttDecodeError::kNone);
    EXPECT_EQ(h.header_bytes, 0u);
  }
  // A 5th length byte.
  MqttFixedHeader h;
  EXPECT_EQ(read_mqtt_fixed_header(span(bytes({0x30, 0xff, 0xff, 0xff, 0xff, 0x01})), h),
            MqttDecodeError::kBadRemainingLength);
  EXPECT_EQ(read_mqtt_fixed_header(span(bytes({0xf0, 0x00})), h), MqttDecodeError::kBadPacketType);
  EXPECT_EQ(read_mqtt_fixed_header(span(bytes({0x00, 0x00})), h), MqttDecodeError::kBadPacketType);
  EXPECT_EQ(mqtt_decode_error_name(MqttDecodeError::kBadRemainingLength), "bad_remaining_length");
}

TEST(MqttCodecTest, SmallPacketsGoldenBytes) {
  Bytes out;
  encode_mqtt_puback(0xabcd, out);
  encode_mqtt_pingreq(out);
  encode_mqtt_disconnect(out);
  EXPECT_EQ(out, bytes({0x40, 2, 0xab, 0xcd, 0xc0, 0, 0xe0, 0}));

  std::uint16_t id = 0;
  EXPECT_EQ(decode_mqtt_puback(0, span(bytes({0xab, 0xcd})), id), MqttDecodeError::kNone);
  EXPECT_EQ(id, 0xabcd);
  EXPECT_EQ(decode_mqtt_puback(0, span(bytes({0, 0})), id), MqttDecodeError::kBadPacketId);
  EXPECT_EQ(decode_mqtt_puback(2, span(bytes({0, 1})), id), MqttDecodeError::kBadFlags);
  EXPECT_EQ(decode_mqtt_puback(0, span(bytes({0, 1, 2})), id), MqttDecodeError::kMalformed);

  EXPECT_EQ(decode_mqtt_pingresp(0, {}), MqttDecodeError::kNone);
  EXPECT_EQ(decode_mqtt_pingresp(0, span(bytes({0}))), MqttDecodeError::kMalformed);
  EXPECT_EQ(decode_mqtt_pingresp(1, {}), MqttDecodeError::kBadFlags);
}

TEST(MqttCodecTest, ConnackAndSuback) {
  MqttConnack a;
  // 0x20 0x02: session present, accepted.
  ASSERT_EQ(decode_mqtt_connack(0, span(bytes({0x01, 0x00})), a), MqttDecodeError::kNone);
  EXPECT_TRUE(a.session_present);
  EXPECT_EQ(a.return_code, 0);
  ASSERT_EQ(decode_mqtt_connack(0, span(bytes({0x00, 0x05})), a), MqttDecodeError::kNone);
  EXPECT_EQ(mqtt_connack_text(a.return_code), "not authorized");
  EXPECT_EQ(decode_mqtt_connack(0, span(bytes({0x00, 0x06})), a), MqttDecodeError::kBadReturnCode);
  EXPECT_EQ(decode_mqtt_connack(0, span(bytes({0x02, 0x00})), a), MqttDecodeError::kBadFlags);
  EXPECT_EQ(decode_mqtt_connack(0, span(bytes({0x01, 0x04})), a), MqttDecodeError::kBadFlags);
  EXPECT_EQ(decode_mqtt_connack(0, span(bytes({0x00})), a), MqttDecodeError::kMalformed);

  MqttSuback s;
  const Bytes suback = bytes({0, 7, 0x01, 0x80});  // the views point into it
  ASSERT_EQ(decode_mqtt_suback(0, span(suback), s), MqttDecodeError::kNone);
  EXPECT_EQ(s.packet_id, 7);
  ASSERT_EQ(s.return_codes.size(), 2u);
  EXPECT_EQ(s.return_codes[1], 0x80);
  EXPECT_EQ(decode_mqtt_suback(0, span(bytes({0, 7, 0x03})), s), MqttDecodeError::kBadReturnCode);
  EXPECT_EQ(decode_mqtt_suback(0, span(bytes({0, 7})), s), MqttDecodeError::kMalformed);
  EXPECT_EQ(decode_mqtt_suback(0, span(bytes({0, 0, 0})), s), MqttDecodeError::kBadPacketId);
}

TEST(MqttCodecTest, MalformedPublishIsRefusedWithItsReason) {
  MqttPublish p;
  // Topic length past the body.
  EXPECT_EQ(decode_mqtt_publish(0, span(bytes({0, 9, 'a'})), p), MqttDecodeError::kMalformed);
  EXPECT_EQ(decode_mqtt_publish(0, span(bytes({0})), p), MqttDecodeError::kMalformed);
  // QoS 1 without room for its packet id, or with id 0.
  EXPECT_EQ(decode_mqtt_publish(0x02, span(bytes({0, 1, 'a', 0})), p), MqttDecodeError::kMalformed);
  EXPECT_EQ(decode_mqtt_publish(0x02, span(bytes({0, 1, 'a', 0, 0})), p),
            MqttDecodeError::kBadPacketId);
  // QoS 3; DUP on QoS 0.
  EXPECT_EQ(decode_mqtt_publish(0x06, span(bytes({0, 1, 'a'})), p), MqttDecodeError::kBadFlags);
  EXPECT_EQ(decode_mqtt_publish(0x08, span(bytes({0, 1, 'a'})), p), MqttDecodeError::kBadFlags);
  // Topics: empty, a wildcard, U+0000, invalid UTF-8 (a lone continuation byte, an overlong
  // '/', a surrogate).
  EXPECT_EQ(decode_mqtt_publish(0, span(bytes({0, 0})), p), MqttDecodeError::kBadTopic);
  EXPECT_EQ(decode_mqtt_publish(0, span(bytes({0, 3, 'a', '/', '+'})), p),
            MqttDecodeError::kBadTopic);
  EXPECT_EQ(decode_mqtt_publish(0, span(bytes({0, 3, 'a', '/', '#'})), p),
            MqttDecodeError::kBadTopic);
  EXPECT_EQ(decode_mqtt_publish(0, span(bytes({0, 2, 'a', 0})), p), MqttDecodeError::kBadTopic);
  EXPECT_EQ(decode_mqtt_publish(0, span(bytes({0, 2, 'a', 0x80})), p), MqttDecodeError::kBadTopic);
  EXPECT_EQ(decode_mqtt_publish(0, span(bytes({0, 2, 0xc0, 0xaf})), p), MqttDecodeError::kBadTopic);
  EXPECT_EQ(decode_mqtt_publish(0, span(bytes({0, 3, 0xed, 0xa0, 0x80})), p),
            MqttDecodeError::kBadTopic);
  // Valid UTF-8 beyond ASCII is a topic like any other.
  const Bytes utf8 = bytes({0, 3, 'd', 0xc3, 0xa9, 'x'});  // the views point into it
  ASSERT_EQ(decode_mqtt_publish(0, span(utf8), p), MqttDecodeError::kNone);
  EXPECT_EQ(p.topic, "d\xc3\xa9");
  EXPECT_EQ(p.payload.size(), 1u);
}

TEST(MqttCodecTest, EncodersRefuseWhatTheProtocolCannotCarry) {
  Bytes out;
  MqttConnectFields f;
  const std::string long_id(65'536, 'x');
  f.client_id = long_id;
  EXPECT_EQ(encode_mqtt_connect(f, out).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(encode_mqtt_publish("a/+", text("x"), 0, false, false, 0, out).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(encode_mqtt_publish("a", text("x"), 1, false, false, 0, out).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(encode_mqtt_publish("a", text("x"), 2, false, false, 1, out).code(),
            StatusCode::kInvalidArgument);
  for (const char* bad : {"", "a/b+", "a/#/b", "a#"}) {
    const std::vector<MqttSubscription> subs = {{bad, 1}};
    EXPECT_EQ(encode_mqtt_subscribe(1, subs, out).code(), StatusCode::kInvalidArgument) << bad;
  }
  const std::vector<MqttSubscription> qos2 = {{"a", 2}};
  EXPECT_EQ(encode_mqtt_subscribe(1, qos2, out).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(out.empty());  // nothing appended by a refusal
}

}  // namespace
}  // namespace edgesketch::net
