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

// A line-protocol payload from devices/dev-7/readings, received at 1,700,000,000,123 ms.
const Bytes kGolden = {
    0x7b, 0x68, 0xe5, 0xcf, 0x8b, 0x01, 0x00, 0x00,  // receive time, u64 LE
    0x05, 'd',  'e',  'v',  '-',  '7',               // device id, length-prefixed
    'v',  'i',  'b',  'r',  'a',  't',  'i',  'o',  'n', ',', 's', 'i', 't', 'e',
    '=',  's',  '1',  ' ',  'v',  'a',  'l',  'u',  'e', '=', '1', '.', '5',
};

TEST(PayloadRecordTest, EncodesTheGoldenBytes) {
  Bytes out = bytes_of("left over from the previous record, longer than this one is");
  const std::uint8_t type = encode_payload_record(
      2, 1'700'000'000'123, "dev-7", span(bytes_of("vibration,site=s1 value=1.5")), out);
  EXPECT_EQ(type, 0x22);
  EXPECT_EQ(out, kGolden);
  EXPECT_EQ(text(payload_record_body(out)),
            "\x05"
            "dev-7vibration,site=s1 value=1.5");
}

TEST(PayloadRecordTest, TypesNameTheFormat) {
  Bytes out;
  EXPECT_EQ(encode_payload_record(0, 1, "d", {}, out), 0x20);
  EXPECT_EQ(encode_payload_record(1, 1, "d", {}, out), 0x21);
  EXPECT_EQ(out, (Bytes{1, 0, 0, 0, 0, 0, 0, 0, 1, 'd'}));
}

// A device id that does not fit its length byte is stored as empty (the payload's own device
// field, if any, still names it).
TEST(PayloadRecordTest, ADeviceIdOver255BytesIsStoredEmpty) {
  Bytes out;
  encode_payload_record(2, 5, std::string(256, 'd'), span(bytes_of("p")), out);
  EXPECT_EQ(out, (Bytes{5, 0, 0, 0, 0, 0, 0, 0, 0, 'p'}));
  encode_payload_record(2, 5, std::string(255, 'd'), span(bytes_of("p")), out);
  ASSERT_EQ(out.size(), 8u + 1 + 255 + 1);
  EXPECT_EQ(out[8], 255);
}

TEST(PayloadRecordTest, ReadsTheGoldenRecordBack) {
  const PayloadRecordView v = read_payload_record(0x22, span(kGolden));
  ASSERT_EQ(v.kind, PayloadRecordView::Kind::kPayload);
  EXPECT_EQ(v.format, 2);
  EXPECT_EQ(v.received_ms, 1'700'000'000'123);
  auto parts = split_payload_record_body(v.body);
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ(parts->device, "dev-7");
  EXPECT_EQ(text(parts->payload), "vibration,site=s1 value=1.5");
}

// Earlier versions wrote the body alone, with the bare format as the type.
TEST(PayloadRecordTest, ReadsUntimedRecordsOfEarlierVersions) {
  const Bytes old(kGolden.begin() + 8, kGolden.end());
  for (std::uint8_t format : {0, 1, 2}) {
    const PayloadRecordView v = read_payload_record(format, span(old));
    ASSERT_EQ(v.kind, PayloadRecordView::Kind::kPayload);
    EXPECT_EQ(v.format, format);
    EXPECT_EQ(v.received_ms, 0);
    EXPECT_EQ(text(v.body), text(span(old)));
  }
}

TEST(PayloadRecordTest, OtherTypesAreNotPayloadRecords) {
  for (std::uint8_t type :
       {std::uint8_t{3}, std::uint8_t{0x1F}, std::uint8_t{0x23}, std::uint8_t{0x3F},
        kCloseMarksRecord, std::uint8_t{0x62}, std::uint8_t{0xA2}, std::uint8_t{0xFF}}) {
    EXPECT_EQ(read_payload_record(type, span(kGolden)).kind, PayloadRecordView::Kind::kOther)
        << int(type);
  }
}

TEST(PayloadRecordTest, ShortAndInconsistentRecordsAreCaught) {
  for (std::size_t n = 0; n < 8; ++n) {
    const Bytes cut(kGolden.begin(), kGolden.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_EQ(read_payload_record(0x22, span(cut)).kind, PayloadRecordView::Kind::kMalformed) << n;
  }
  const Bytes time_only(kGolden.begin(), kGolden.begin() + 8);
  const PayloadRecordView empty = read_payload_record(0x22, span(time_only));
  ASSERT_EQ(empty.kind, PayloadRecordView::Kind::kPayload);
  EXPECT_TRUE(empty.body.empty());
  EXPECT_FALSE(split_payload_record_body(empty.body).has_value());
  // The device length runs past the body.
  EXPECT_FALSE(split_payload_record_body(span(Bytes{6, 'd', 'e', 'v', '-', '7'})).has_value());
  const Bytes device_only{5, 'd', 'e', 'v', '-', '7'};
  auto exact = split_payload_record_body(span(device_only));
  ASSERT_TRUE(exact.has_value());
  EXPECT_EQ(exact->device, "dev-7");
  EXPECT_TRUE(exact->payload.empty());
}

}  // namespace
}  // namespace edgesketch::agent
