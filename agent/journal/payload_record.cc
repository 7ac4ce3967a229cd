// Encoding and reading of the agent's payload records (payload_record.h).
#include "journal/payload_record.h"

namespace edgesketch::agent {

std::uint8_t encode_payload_record(std::uint8_t format, std::int64_t received_ms,
                                   std::string_view device, ByteSpan payload, Bytes& out) {
  const std::size_t dev_len = device.size() <= 255 ? device.size() : 0;
  out.clear();
  out.reserve(kPayloadRecordTimeBytes + 1 + dev_len + payload.size());
  put_u64(out, static_cast<std::uint64_t>(received_ms));
  put_u8(out, static_cast<std::uint8_t>(dev_len));
  out.insert(out.end(), device.begin(), device.begin() + static_cast<std::ptrdiff_t>(dev_len));
  put_bytes(out, payload);
  return static_cast<std::uint8_t>(kTimedPayloadRecord | format);
}

PayloadRecordView read_payload_record(std::uint8_t type, ByteSpan record) {
  PayloadRecordView view;
  if ((type & ~kRecordFormatMask) == kTimedPayloadRecord &&
      (type & kRecordFormatMask) <= kMaxPayloadRecordFormat) {
    view.format = static_cast<std::uint8_t>(type & kRecordFormatMask);
    ByteReader r(record);
    view.received_ms = static_cast<std::int64_t>(r.u64());
    if (!r.ok()) {
      view.kind = PayloadRecordView::Kind::kMalformed;
      return view;
    }
    view.body = record.subspan(kPayloadRecordTimeBytes);
  } else if (type > kMaxPayloadRecordFormat) {
    return view;  // close marks (earlier versions) and anything unknown: kOther
  } else {
    view.format = type;  // untimed, of an earlier version
    view.body = record;
  }
  view.kind = PayloadRecordView::Kind::kPayload;
  return view;
}

std::optional<PayloadRecordParts> split_payload_record_body(ByteSpan body) {
  if (body.empty()) return std::nullopt;
  const std::size_t dev_len = body[0];
  if (body.size() < 1 + dev_len) return std::nullopt;
  return PayloadRecordParts{
      std::string_view(reinterpret_cast<const char*>(body.data() + 1), dev_len),
      body.subspan(1 + dev_len)};
}

}  // namespace edgesketch::agent
