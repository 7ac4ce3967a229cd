// The agent's journal payload records (journal/payload_record.h): golden bytes of the layout
// journals on gateways hold, and how every kind of record reads back.
#include "journal/payload_record.h"

#include <gtest/gtest.h>

#include <string>

namespace edgesketch::agent {
namespace {

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

ByteSpan span(const Bytes& b) { return ByteSpan(b.data(), b.size()); }

std::string text(ByteSpan b) { return std::string(b.begin(), b.end()); }

// A line-protocol payload taken by input "mqtt0" on devices/dev-7/readings, received at
// 1,700,000,000,123 ms.
const Bytes kGolden = {
    0x7b, 0x68, 0xe5, 0xcf, 0x8b, 0x01, 0x00, 0x00,  // receive time, u64 LE
    0x05, 'm',  'q',  't',  't',  '0',               // input name, u8-length-prefixed
    0x16, 0x00, 'd',  'e',  'v',  'i',  'c',  'e',   // topic, u16-LE-length-prefixed
    's',  '/',  'd',  'e',  'v',  '-',  '7',  '/',  'r', 'e', 'a', 'd', 'i', 'n', 'g',
    's',  'v',  'i',  'b',  'r',  'a',  't',  'i',  'o', 'n', ',', 's', 'i', 't', 'e',
    '=',  's',  '1',  ' ',  'v',  'a',  'l',  'u',  'e', '=', '1', '.', '5',
};

// A timed device record of earlier versions: the same payload with the topic's device id.
const Bytes kGoldenDeviceRecord = {
    0x7b, 0x68, 0xe5, 0xcf, 0x8b, 0x01, 0x00, 0x00,  // receive time, u64 LE
    0x05, 'd',  'e',  'v',  '-',  '7',               // device id, length-prefixed
    'v',  'i',  'b',  'r',  'a',  't',  'i',  'o',  'n', ',', 's', 'i', 't', 'e',
    '=',  's',  '1',  ' ',  'v',  'a',  'l',  'u',  'e', '=', '1', '.', '5',
};

TEST(PayloadRecordTest, EncodesTheGoldenBytes) {
  Bytes out = bytes_of("left over from the previous record, longer than this one is");
  const std::uint8_t type =
      encode_payload_record(2, 1'700'000'000'123, "mqtt0", "devices/dev-7/readings",
                            span(bytes_of("vibration,site=s1 value=1.5")), out);
  EXPECT_EQ(type, 0x62);
  EXPECT_EQ(out, kGolden);
  EXPECT_EQ(text(payload_record_body(out)), text(span(kGolden).subspan(8)));
}

TEST(PayloadRecordTest, TypesNameTheFormat) {
  Bytes out;
  EXPECT_EQ(encode_payload_record(0, 1, "i", "", {}, out), 0x60);
  EXPECT_EQ(encode_payload_record(3, 1, "i", "t", {}, out), 0x63);
  EXPECT_EQ(out, (Bytes{1, 0, 0, 0, 0, 0, 0, 0, 1, 'i', 1, 0, 't'}));
  EXPECT_EQ(encode_payload_record(4, 1, "i", "", {}, out), 0x64);
}

// A topic past its u16 length is cut (MQTT topics are at most 65,535 bytes anyway).
TEST(PayloadRecordTest, ATopicIsCutAtItsLengthField) {
  Bytes out;
  encode_payload_record(2, 5, "i", std::string(70'000, 't'), span(bytes_of("p")), out);
  ASSERT_EQ(out.size(), 8u + 1 + 1 + 2 + 65'535 + 1);
  EXPECT_EQ(out[10], 0xFF);
  EXPECT_EQ(out[11], 0xFF);
  const PayloadRecordView v = read_payload_record(0x62, span(out));
  auto parts = split_payload_record_body(v);
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(parts->topic.size(), 65'535u);
  EXPECT_EQ(text(parts->payload), "p");
}

TEST(PayloadRecordTest, ReadsTheGoldenRecordBack) {
  const PayloadRecordView v = read_payload_record(0x62, span(kGolden));
  ASSERT_EQ(v.kind, PayloadRecordView::Kind::kPayload);
  EXPECT_EQ(v.format, 2);
  EXPECT_TRUE(v.with_topic);
  EXPECT_EQ(v.received_ms, 1'700'000'000'123);
  auto parts = split_payload_record_body(v);
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(parts->input, "mqtt0");
  EXPECT_EQ(parts->topic, "devices/dev-7/readings");
  EXPECT_EQ(parts->device, "");
  EXPECT_EQ(text(parts->payload), "vibration,site=s1 value=1.5");
}

// The timed device records earlier versions wrote are still read, with their device id.
TEST(PayloadRecordTest, ReadsTimedDeviceRecordsOfEarlierVersions) {
  const PayloadRecordView v = read_payload_record(0x22, span(kGoldenDeviceRecord));
  ASSERT_EQ(v.kind, PayloadRecordView::Kind::kPayload);
  EXPECT_EQ(v.format, 2);
  EXPECT_FALSE(v.with_topic);
  EXPECT_EQ(v.received_ms, 1'700'000'000'123);
  auto parts = split_payload_record_body(v);
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(parts->device, "dev-7");
  EXPECT_EQ(parts->input, "");
  EXPECT_EQ(text(parts->payload), "vibration,site=s1 value=1.5");
}

// Before that they wrote the body alone, with the bare format as the type.
TEST(PayloadRecordTest, ReadsUntimedRecordsOfEarlierVersions) {
  const Bytes old(kGoldenDeviceRecord.begin() + 8, kGoldenDeviceRecord.end());
  for (std::uint8_t format : {0, 1, 2}) {
    const PayloadRecordView v = read_payload_record(format, span(old));
    ASSERT_EQ(v.kind, PayloadRecordView::Kind::kPayload);
    EXPECT_EQ(v.format, format);
    EXPECT_EQ(v.received_ms, 0);
    EXPECT_FALSE(v.with_topic);
    EXPECT_EQ(text(v.body), text(span(old)));
    auto parts = split_payload_record_body(v);
    ASSERT_TRUE(parts.has_value());
    EXPECT_EQ(parts->device, "dev-7");
  }
}

// Device records only ever held formats 0..2; topic records 0..4.
TEST(PayloadRecordTest, OtherTypesAreNotPayloadRecords) {
  for (std::uint8_t type :
       {std::uint8_t{3}, std::uint8_t{4}, std::uint8_t{0x1F}, std::uint8_t{0x23},
        std::uint8_t{0x24}, std::uint8_t{0x3F}, kCloseMarksRecord, std::uint8_t{0x65},
        std::uint8_t{0x7F}, std::uint8_t{0xA2}, std::uint8_t{0xE2}, std::uint8_t{0xFF}}) {
    EXPECT_EQ(read_payload_record(type, span(kGolden)).kind, PayloadRecordView::Kind::kOther)
        << int(type);
  }
}

TEST(PayloadRecordTest, ShortAndInconsistentRecordsAreCaught) {
  for (std::uint8_t type : {std::uint8_t{0x22}, std::uint8_t{0x62}}) {
    for (std::size_t n = 0; n < 8; ++n) {
      const Bytes cut(kGolden.begin(), kGolden.begin() + static_cast<std::ptrdiff_t>(n));
      EXPECT_EQ(read_payload_record(type, span(cut)).kind, PayloadRecordView::Kind::kMalformed)
          << int(type) << " " << n;
    }
    const Bytes time_only(kGolden.begin(), kGolden.begin() + 8);
    const PayloadRecordView empty = read_payload_record(type, span(time_only));
    ASSERT_EQ(empty.kind, PayloadRecordView::Kind::kPayload);
    EXPECT_TRUE(empty.body.empty());
    EXPECT_FALSE(split_payload_record_body(empty).has_value());
  }
  // Every cut of the golden topic record inside its input or topic is caught; past them, the
  // payload is shorter.
  const std::size_t header = 8 + 1 + 5 + 2 + 22;
  for (std::size_t n = 9; n < kGolden.size(); ++n) {
    const Bytes cut(kGolden.begin(), kGolden.begin() + static_cast<std::ptrdiff_t>(n));
    auto parts = split_payload_record_body(read_payload_record(0x62, span(cut)));
    EXPECT_EQ(parts.has_value(), n >= header) << n;
    if (parts) {
      EXPECT_EQ(parts->payload.size(), n - header);
    }
  }
  // The device length runs past the body of a device record.
  const Bytes long_device{0, 0, 0, 0, 0, 0, 0, 0, 6, 'd', 'e', 'v', '-', '7'};
  EXPECT_FALSE(split_payload_record_body(read_payload_record(0x22, span(long_device))));
  const Bytes device_only{0, 0, 0, 0, 0, 0, 0, 0, 5, 'd', 'e', 'v', '-', '7'};
  auto exact = split_payload_record_body(read_payload_record(0x22, span(device_only)));
  ASSERT_TRUE(exact.has_value());
  EXPECT_EQ(exact->device, "dev-7");
  EXPECT_TRUE(exact->payload.empty());
}

}  // namespace
}  // namespace edgesketch::agent
