// The agent's journal records of input payloads: how the MQTT and UDP sinks store one payload
// as a journal record (Journal::append's payload and type) and how replay reads it back.
//
// Record types (the journal's type byte):
//   0x20 | format   a timed payload record (written since the receive time was added);
//                   format = the payload's PayloadFormat, 0..kMaxPayloadRecordFormat
//   format          an untimed payload record of earlier versions (read only)
//   0x40            close marks of earlier versions (kCloseMarksRecord; read only)
// Anything else is not a payload record and replay skips it.
//
// Bytes of a timed record (little-endian):
//   0  u64        receive time, ms since the epoch
//   8  u8         n = length of the device id (0 when the device id is longer than 255 bytes)
//   9  u8[n]      the device id taken from the MQTT topic (device_from_topic())
//   9+n ...       the payload as received
// An untimed record is the same without the first 8 bytes. The bytes from offset 8 on (the
// "body") are what the redelivery filter compares.
//
// So replay parses a payload exactly as the input did: with its format, its topic's device id
// and, for readings without a timestamp of their own, the time it arrived.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "edgesketch/common/byte_coding.h"

namespace edgesketch::agent {

// Journal record type of a close-marks record, as earlier versions wrote them (payload records
// use their PayloadFormat); replay still reads them.
inline constexpr std::uint8_t kCloseMarksRecord = 0x40;
// Journal record type of a payload record with its receive time: kTimedPayloadRecord | format.
inline constexpr std::uint8_t kTimedPayloadRecord = 0x20;
// The format bits of a kTimedPayloadRecord type.
inline constexpr std::uint8_t kRecordFormatMask = 0x1F;
// The highest payload format a record may name (PayloadFormat::kLine; agent_app.cc checks).
inline constexpr std::uint8_t kMaxPayloadRecordFormat = 2;
// Bytes of the receive time at the head of a timed record.
inline constexpr std::size_t kPayloadRecordTimeBytes = 8;

// Builds the timed record of one payload in `out` (its capacity is reused; the previous
// contents are replaced) and returns its journal type. `format` <= kMaxPayloadRecordFormat.
std::uint8_t encode_payload_record(std::uint8_t format, std::int64_t received_ms,
                                   std::string_view device, ByteSpan payload, Bytes& out);

// The body of a record encode_payload_record() built: device length, device id, payload.
inline ByteSpan payload_record_body(const Bytes& record) {
  return ByteSpan(record.data() + kPayloadRecordTimeBytes, record.size() - kPayloadRecordTimeBytes);
}

// One journal record as replay sees it.
struct PayloadRecordView {
  enum class Kind {
    kPayload,    // a payload record: format, received_ms and body are set
    kOther,      // not a payload record (close marks, unknown types): skip it
    kMalformed,  // a timed record shorter than its receive time
  };
  Kind kind = Kind::kOther;
  std::uint8_t format = 0;
  std::int64_t received_ms = 0;  // 0: an untimed record of an earlier version
  ByteSpan body;                 // device length, device id, payload (may be empty)
};

// Reads the record of journal type `type` with bytes `record`. Never reads out of bounds.
PayloadRecordView read_payload_record(std::uint8_t type, ByteSpan record);

// A body's device id and payload; nullopt when the device length runs past the body (an empty
// body included).
struct PayloadRecordParts {
  std::string_view device;
  ByteSpan payload;
};
std::optional<PayloadRecordParts> split_payload_record_body(ByteSpan body);

}  // namespace edgesketch::agent
