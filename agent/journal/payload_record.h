// The agent's journal records of input payloads: how the MQTT and UDP sinks store one payload
// as a journal record (Journal::append's payload and type) and how replay reads it back.
//
// Record types (the journal's type byte):
//   0x60 | format   a topic record (written by this version); format = the payload's
//                   PayloadFormat, 0..kMaxPayloadRecordFormat
//   0x20 | format   a timed device record of earlier versions (read only); format 0..2
//   format          an untimed device record of earlier versions (read only); format 0..2
//   0x40            close marks of earlier versions (kCloseMarksRecord; read only)
// Anything else is not a payload record and replay skips it.
//
// Bytes of a topic record (little-endian):
//   0    u64        receive time, ms since the epoch
//   8    u8         n = length of the input's name (1..64, the config's bound)
//   9    u8[n]      the name of the [[input]] that took the payload
//   9+n  u16        t = length of the MQTT topic (topics longer than 65,535 bytes are cut)
//   11+n u8[t]      the topic ("" for UDP)
//   ...             the payload as received
// Bytes of a timed device record: the receive time, then u8 device id length (0 when the id was
// longer than 255 bytes), the device id from the topic, the payload. An untimed record is the
// same without the receive time. In every kind the bytes after the receive time (the "body")
// are what the redelivery filter compares.
//
// So replay parses a payload exactly as the input did: with its format, the options of the input
// of that name (topic template, device tag, time field) and its topic, and, for readings without
// a timestamp of their own, the time it arrived.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "edgesketch/common/byte_coding.h"

namespace edgesketch::agent {

// Journal record type of a close-marks record, as earlier versions wrote them; replay still
// reads them.
inline constexpr std::uint8_t kCloseMarksRecord = 0x40;
// Journal record type of a topic record: kTopicPayloadRecord | format.
inline constexpr std::uint8_t kTopicPayloadRecord = 0x60;
// Journal record type of a timed device record of earlier versions: kTimedPayloadRecord | format.
inline constexpr std::uint8_t kTimedPayloadRecord = 0x20;
// The format bits of a record type.
inline constexpr std::uint8_t kRecordFormatMask = 0x1F;
// The highest payload format a topic record may name (PayloadFormat::kValue; agent_app.cc
// checks), and a device record of earlier versions (PayloadFormat::kLine).
inline constexpr std::uint8_t kMaxPayloadRecordFormat = 4;
inline constexpr std::uint8_t kMaxDeviceRecordFormat = 2;
// Bytes of the receive time at the head of a timed or topic record.
inline constexpr std::size_t kPayloadRecordTimeBytes = 8;
// The longest input name a record holds (the config refuses longer ones).
inline constexpr std::size_t kMaxPayloadRecordInput = 255;

// Builds the topic record of one payload in `out` (its capacity is reused; the previous
// contents are replaced) and returns its journal type. `format` <= kMaxPayloadRecordFormat,
// `input` at most kMaxPayloadRecordInput bytes (longer is cut).
std::uint8_t encode_payload_record(std::uint8_t format, std::int64_t received_ms,
                                   std::string_view input, std::string_view topic, ByteSpan payload,
                                   Bytes& out);

// The body of a record encode_payload_record() built: everything after the receive time.
inline ByteSpan payload_record_body(const Bytes& record) {
  return ByteSpan(record.data() + kPayloadRecordTimeBytes, record.size() - kPayloadRecordTimeBytes);
}

// One journal record as replay sees it.
struct PayloadRecordView {
  enum class Kind {
    kPayload,    // a payload record: format, received_ms, with_topic and body are set
    kOther,      // not a payload record (close marks, unknown types): skip it
    kMalformed,  // a timed or topic record shorter than its receive time
  };
  Kind kind = Kind::kOther;
  std::uint8_t format = 0;
  std::int64_t received_ms = 0;  // 0: an untimed record of an earlier version
  bool with_topic = false;       // a topic record (else a device record of earlier versions)
  ByteSpan body;                 // everything after the receive time (may be empty)
};

// Reads the record of journal type `type` with bytes `record`. Never reads out of bounds.
PayloadRecordView read_payload_record(std::uint8_t type, ByteSpan record);

// What a record's body names besides the payload: a topic record's input and topic, or a device
// record's device id (input and topic empty).
struct PayloadRecordParts {
  std::string_view input;
  std::string_view topic;
  std::string_view device;
  ByteSpan payload;
};
// Splits the body of `view` (a kPayload view); nullopt when a length runs past the body (an
// empty body included).
std::optional<PayloadRecordParts> split_payload_record_body(const PayloadRecordView& view);

}  // namespace edgesketch::agent
