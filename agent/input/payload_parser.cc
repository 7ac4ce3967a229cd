// Format dispatch, the topic's part, the nanopb path and the checks JSON readings go through.
#include "input/payload_parser.h"

#include <algorithm>
#include <utility>

#include "edgesketch/common/time_math.h"
#include "edgesketch/wire/codec.h"
#include "edgesketch/wire/error_reason.h"
#include "input/payload_text.h"

namespace edgesketch::agent {

wire::Reading& ReadingBuffer::append() {
  wire::Reading& r = append_for_overwrite();
  r.device_id.clear();
  r.metric.clear();
  r.tags.clear();
  return r;
}

wire::Reading& ReadingBuffer::append_for_overwrite() {
  if (size_ == items_.size()) items_.emplace_back();
  wire::Reading& r = items_[size_++];
  r.ts_ms = 0;
  r.value = 0;
  r.label.clear();
  r.is_label = false;
  return r;
}

namespace {

// What a malloc(n) occupies in glibc: the request plus its 8-byte header, rounded to 16, at
// least 32.
constexpr std::size_t malloc_block(std::size_t n) {
  const std::size_t block = (n + 8 + 15) & ~std::size_t{15};
  return block < 32 ? 32 : block;
}

// The heap block behind a string, 0 while it fits in the object (the small-string buffer).
std::size_t string_heap_bytes(const std::string& s) {
  static const std::size_t kInline = std::string().capacity();
  return s.capacity() > kInline ? malloc_block(s.capacity() + 1) : 0;
}

}  // namespace

std::size_t ReadingBuffer::heap_bytes() const {
  std::size_t bytes =
      items_.capacity() == 0 ? 0 : malloc_block(items_.capacity() * sizeof(wire::Reading));
  for (const wire::Reading& r : items_) {
    bytes +=
        string_heap_bytes(r.device_id) + string_heap_bytes(r.metric) + string_heap_bytes(r.label);
    if (r.tags.capacity() == 0) continue;
    bytes += malloc_block(r.tags.capacity() * sizeof(wire::Tag));
    for (const wire::Tag& t : r.tags)
      bytes += string_heap_bytes(t.key) + string_heap_bytes(t.value);
  }
  return bytes;
}

void ReadingBuffer::release_storage() {
  std::vector<wire::Reading>().swap(items_);
  size_ = 0;
}

std::string_view parse_error_reason(const Status& status) {
  const std::string& m = status.message();
  if (status.ok() || m.empty() || m.back() != ']') return "unknown";
  const std::size_t open = m.rfind(" [");
  if (open == std::string::npos) return "unknown";
  return std::string_view(m).substr(open + 2, m.size() - open - 3);
}

void SkippedItems::clear() {
  counts_.clear();
  total_ = 0;
  if (!first_.ok()) first_ = Status();
}

void SkippedItems::add(const Status& error) {
  const std::string_view reason = stable_reason(parse_error_reason(error));
  if (total_++ == 0) first_ = error;
  for (Count& c : counts_) {
    if (c.reason == reason) {
      ++c.items;
      return;
    }
  }
  counts_.push_back(Count{reason, 1});
}

std::string_view time_format_name(TimeFormat format) {
  switch (format) {
    case TimeFormat::kRfc3339:
      return "rfc3339";
    case TimeFormat::kUnixS:
      return "unix_s";
    case TimeFormat::kUnixMs:
      return "unix_ms";
    case TimeFormat::kUnixNs:
      return "unix_ns";
  }
  return "unknown";
}

std::optional<TimeFormat> parse_time_format(std::string_view name) {
  for (TimeFormat f :
       {TimeFormat::kRfc3339, TimeFormat::kUnixS, TimeFormat::kUnixMs, TimeFormat::kUnixNs}) {
    if (name == time_format_name(f)) return f;
  }
  return std::nullopt;
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
                            ReadingBuffer& out, std::string_view topic) {
  skipped_.clear();
  if (options_.topic_template.empty()) {
    topic_fields_.device = device_from_topic(topic);
    topic_fields_.metric = {};
    topic_fields_.tags.clear();
  } else if (!options_.topic_template.match(topic, topic_fields_)) {
    return text_error(kTopicMismatch, "topic \"" + std::string(topic) +
                                          "\" does not match the topic template \"" +
                                          options_.topic_template.text() + "\"");
  }
  return parse_resolved(format, payload, now_ms, out, topic_fields_);
}

Status PayloadParser::parse_resolved(PayloadFormat format, ByteSpan payload, std::int64_t now_ms,
                                     ReadingBuffer& out, const TopicFields& topic) {
  skipped_.clear();
  const wire::Limits& limits = options_.limits;
  if (payload.size() > limits.max_payload_bytes) {
    return text_error(wire::ErrorReason::kPayloadTooLarge,
                      std::string(payload_format_name(format)) + ": " +
                          std::to_string(payload.size()) + " bytes exceed max_payload_bytes " +
                          std::to_string(limits.max_payload_bytes));
  }
  // What the topic gives is checked once here, not with every reading it goes into.
  const auto name_too_long = wire::ErrorReason::kNameTooLong;
  ES_RETURN_IF_ERROR(
      check_name("topic device", topic.device, limits.max_name_bytes, false, name_too_long));
  ES_RETURN_IF_ERROR(
      check_name("topic metric", topic.metric, limits.max_name_bytes, false, name_too_long));
  for (const TopicTag& t : topic.tags) {
    if (t.value.size() > limits.max_name_bytes || !valid_text(t.value)) {
      return check_name("topic tag \"" + std::string(t.key) + "\"", t.value, limits.max_name_bytes,
                        false, name_too_long);
    }
  }
  const std::string_view text(reinterpret_cast<const char*>(payload.data()), payload.size());
  switch (format) {
    case PayloadFormat::kNanopb:
      return parse_nanopb(payload, now_ms, out, topic);
    case PayloadFormat::kJson:
      return parse_json(text, out, topic);
    case PayloadFormat::kLine:
      return parse_line(text, now_ms, out, topic);
    case PayloadFormat::kJsonFields:
      return parse_json_fields(text, now_ms, out, topic);
    case PayloadFormat::kValue:
      return parse_value(text, now_ms, out, topic);
  }
  return Status::invalid_argument("payload: unknown format");
}

Status PayloadParser::merge_topic_tags(wire::Reading& r, const TopicFields& topic) const {
  if (topic.tags.empty()) return Status();
  for (const TopicTag& tt : topic.tags) {
    auto it = std::lower_bound(r.tags.begin(), r.tags.end(), tt.key,
                               [](const wire::Tag& t, std::string_view k) { return t.key < k; });
    if (it != r.tags.end() && it->key == tt.key) continue;  // the reading's own tag wins
    r.tags.insert(it, wire::Tag{std::string(tt.key), std::string(tt.value)});
  }
  if (r.tags.size() > options_.limits.max_tags) {
    return text_error(wire::ErrorReason::kTooManyTags,
                      "payload: " + std::to_string(r.tags.size()) +
                          " tags with the topic's exceed max_tags " +
                          std::to_string(options_.limits.max_tags));
  }
  return Status();
}

Status PayloadParser::parse_nanopb(ByteSpan payload, std::int64_t now_ms, ReadingBuffer& out,
                                   const TopicFields& topic) {
  Result<wire::ReadingBatch> batch = wire::decode_reading_batch(payload, options_.limits, now_ms);
  if (!batch.ok()) return batch.status();
  const std::size_t first = out.size();
  for (wire::Reading& r : batch->readings) {
    wire::Reading& slot = out.append();
    slot = std::move(r);
    Status s = merge_topic_tags(slot, topic);
    if (!s.ok()) {
      out.truncate(first);
      return s;
    }
  }
  return Status();
}

Status PayloadParser::finish_readings(ReadingBuffer& out, std::size_t from,
                                      std::string_view batch_device, const TopicFields& topic) {
  const wire::Limits& limits = options_.limits;
  if (out.size() - from > limits.max_readings_per_batch) {
    return text_error(wire::ErrorReason::kTooManyReadings,
                      "payload: " + std::to_string(out.size() - from) +
                          " readings exceed max_readings_per_batch " +
                          std::to_string(limits.max_readings_per_batch));
  }
  for (std::size_t i = from; i < out.size(); ++i) {
    wire::Reading& r = out[i];
    if (r.device_id.empty()) r.device_id.assign(batch_device.empty() ? topic.device : batch_device);
    for (const wire::Tag& bt : batch_tags_) {
      bool has = false;
      for (const wire::Tag& t : r.tags) has |= t.key == bt.key;
      if (!has) r.tags.push_back(bt);
    }
    std::sort(r.tags.begin(), r.tags.end(),
              [](const wire::Tag& a, const wire::Tag& b) { return a.key < b.key; });
    ES_RETURN_IF_ERROR(merge_topic_tags(r, topic));
    ES_RETURN_IF_ERROR(check_reading(r, limits, i - from));
  }
  return Status();
}

}  // namespace edgesketch::agent
