// Encoding and reading of the agent's payload records (payload_record.h).
#include "journal/payload_record.h"

#include <algorithm>

namespace edgesketch::agent {

std::uint8_t encode_payload_record(std::uint8_t format, std::int64_t received_ms,
                                   std::string_view input, std::string_view topic, ByteSpan payload,
                                   Bytes& out) {
  input = input.substr(0, kMaxPayloadRecordInput);
  topic = topic.substr(0, 0xFFFF);
  out.clear();
  out.reserve(kPayloadRecordTimeBytes + 1 + input.size() + 2 + topic.size() + payload.size());
  put_u64(out, static_cast<std::uint64_t>(received_ms));
  put_u8(out, static_cast<std::uint8_t>(input.size()));
  out.insert(out.end(), input.begin(), input.end());
  put_u16(out, static_cast<std::uint16_t>(topic.size()));
  out.insert(out.end(), topic.begin(), topic.end());
  put_bytes(out, payload);
  return static_cast<std::uint8_t>(kTopicPayloadRecord | format);
}

PayloadRecordView read_payload_record(std::uint8_t type, ByteSpan record) {
  PayloadRecordView view;
  const auto kind = static_cast<std::uint8_t>(type & ~kRecordFormatMask);
  const auto format = static_cast<std::uint8_t>(type & kRecordFormatMask);
  const bool topic_record = kind == kTopicPayloadRecord && format <= kMaxPayloadRecordFormat;
  const bool timed_record = kind == kTimedPayloadRecord && format <= kMaxDeviceRecordFormat;
  if (topic_record || timed_record) {
    view.format = format;
    view.with_topic = topic_record;
    ByteReader r(record);
    view.received_ms = static_cast<std::int64_t>(r.u64());
    if (!r.ok()) {
      view.kind = PayloadRecordView::Kind::kMalformed;
      return view;
    }
    view.body = record.subspan(kPayloadRecordTimeBytes);
  } else if (type > kMaxDeviceRecordFormat) {
    return view;  // close marks (earlier versions) and anything unknown: kOther
  } else {
    view.format = type;  // untimed, of an earlier version
    view.body = record;
  }
  view.kind = PayloadRecordView::Kind::kPayload;
  return view;
}

std::optional<PayloadRecordParts> split_payload_record_body(const PayloadRecordView& view) {
  const auto text = [](ByteSpan b) {
    return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
  };
  ByteReader r(view.body);
  PayloadRecordParts parts;
  if (view.with_topic) {
    parts.input = text(r.bytes(r.u8()));
    parts.topic = text(r.bytes(r.u16()));
  } else {
    parts.device = text(r.bytes(r.u8()));
  }
  if (!r.ok()) return std::nullopt;
  parts.payload = view.body.subspan(view.body.size() - r.remaining());
  return parts;
}

}  // namespace edgesketch::agent
