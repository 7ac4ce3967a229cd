// Format dispatch, the nanopb path and the checks JSON and line protocol readings share.
#include "input/payload_parser.h"

#include <algorithm>
#include <utility>

#include "edgesketch/common/time_math.h"
#include "edgesketch/wire/codec.h"
#include "edgesketch/wire/error_reason.h"
#include "input/payload_text.h"

namespace edgesketch::agent {

wire::Reading& ReadingBuffer::append() {
  if (size_ == items_.size()) items_.emplace_back();
  wire::Reading& r = items_[size_++];
  r.device_id.clear();
  r.metric.clear();
  r.tags.clear();
  r.ts_ms = 0;
  r.value = 0;
  r.label.clear();
  r.is_label = false;
  return r;
}

std::string_view parse_error_reason(const Status& status) {
  const std::string& m = status.message();
  if (status.ok() || m.empty() || m.back() != ']') return "unknown";
  const std::size_t open = m.rfind(" [");
  if (open == std::string::npos) return "unknown";
  return std::string_view(m).substr(open + 2, m.size() - open - 3);
}

std::int64_t line_timestamp_to_ms(std::int64_t ts) {
  const std::int64_t mag = ts < 0 ? -(ts + 1) : ts;
  if (mag < 100'000'000'000) return ts * 1000;
  if (mag < 100'000'000'000'000) return ts;
  if (mag < 100'000'000'000'000'000) return floor_div(ts, 1000);
  return floor_div(ts, 1'000'000);
}

std::string_view device_from_topic(std::string_view topic) {
  // ".../devices/<id>/..." with <id> the level after "devices".
  std::size_t pos = 0;
  while (pos <= topic.size()) {
    std::size_t slash = topic.find('/', pos);
    std::string_view level =
        topic.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    if (level == "devices" && slash != std::string_view::npos) {
      std::size_t next = topic.find('/', slash + 1);
      std::string_view id = topic.substr(
          slash + 1, next == std::string_view::npos ? std::string_view::npos : next - slash - 1);
      return id;
    }
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  return {};
}

PayloadParser::PayloadParser(ParserOptions options) : options_(std::move(options)) {}

Status PayloadParser::parse(PayloadFormat format, ByteSpan payload, std::int64_t now_ms,
                            ReadingBuffer& out, std::string_view topic_device) {
  const std::string_view text(reinterpret_cast<const char*>(payload.data()), payload.size());
  switch (format) {
    case PayloadFormat::kNanopb:
      return parse_nanopb(payload, now_ms, out);
    case PayloadFormat::kJson:
      return parse_json(text, out, topic_device);
    case PayloadFormat::kLine:
      return parse_line(text, now_ms, out, topic_device);
  }
  return Status::invalid_argument("payload: unknown format");
}

Status PayloadParser::parse_nanopb(ByteSpan payload, std::int64_t now_ms, ReadingBuffer& out) {
  Result<wire::ReadingBatch> batch = wire::decode_reading_batch(payload, options_.limits, now_ms);
  if (!batch.ok()) return batch.status();
  for (wire::Reading& r : batch->readings) out.append() = std::move(r);
  return Status();
}

Status PayloadParser::finish_readings(ReadingBuffer& out, std::size_t from,
                                      std::string_view batch_device,
                                      std::string_view topic_device) {
  const wire::Limits& limits = options_.limits;
  if (out.size() - from > limits.max_readings_per_batch) {
    return text_error(wire::ErrorReason::kTooManyReadings,
                      "payload: " + std::to_string(out.size() - from) +
                          " readings exceed max_readings_per_batch " +
                          std::to_string(limits.max_readings_per_batch));
  }
  for (std::size_t i = from; i < out.size(); ++i) {
    wire::Reading& r = out[i];
    const std::string where = "reading " + std::to_string(i - from);
    if (r.device_id.empty()) r.device_id.assign(batch_device.empty() ? topic_device : batch_device);
    for (const wire::Tag& bt : batch_tags_) {
      bool has = false;
      for (const wire::Tag& t : r.tags) has |= t.key == bt.key;
      if (!has) r.tags.push_back(bt);
    }
    std::sort(r.tags.begin(), r.tags.end(),
              [](const wire::Tag& a, const wire::Tag& b) { return a.key < b.key; });
    ES_RETURN_IF_ERROR(check_reading(r, limits, where));
  }
  return Status();
}

}  // namespace edgesketch::agent
