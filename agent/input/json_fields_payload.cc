// json_fields (docs/agent.md, "Flat JSON"): any JSON object, every leaf a reading named by its
// key path joined with '_':
//   Zigbee2MQTT  zigbee2mqtt/<device>  {"temperature":21.5,"humidity":48,"state":"ON"}
//   Tasmota      tele/<device>/SENSOR  {"Time":"2026-12-07T14:00:00","AM2301":
//                                       {"Temperature":21.3,"Humidity":40.1},"TempUnit":"C"}
// Numbers are values, true/false 1/0, strings label readings (or ignored), null nothing; an
// array is skipped and counted (array_value). The leaf at ParserOptions::time_field is the
// payload's time (every reading's), else the receive time. The device and tags come from the
// topic.
//
// A leaf is the unit of error: a bad one (a name or label too long or not UTF-8, an array, one
// reading too many) is skipped and counted, the others are taken. What the payload as a whole
// needs (JSON syntax, nesting within 32, the device, a time that parses) refuses it whole.
#include <charconv>
#include <cmath>
#include <string>
#include <string_view>

#include "edgesketch/common/rfc3339.h"
#include "edgesketch/common/time_math.h"
#include "input/json_reader.h"
#include "input/payload_parser.h"
#include "input/payload_text.h"

namespace edgesketch::agent {
namespace {

// The payload's time from the time leaf's text (a string's contents or a number's token).
Status leaf_time_ms(std::string_view text, bool quoted, TimeFormat format, std::int64_t& out) {
  auto bad = [&] {
    return text_error(kBadTimestamp, "json_fields: time " + std::string(quoted ? "\"" : "") +
                                         std::string(text.substr(0, 64)) + (quoted ? "\"" : "") +
                                         " is not " + std::string(time_format_name(format)));
  };
  if (format == TimeFormat::kRfc3339) {
    if (!quoted) return bad();
    const auto ms = parse_rfc3339_ms(text, /*offset_optional=*/true);
    if (!ms) return bad();
    out = *ms;
    return Status();
  }
  const std::int64_t per_ms = format == TimeFormat::kUnixNs ? 1'000'000 : 1;
  const std::int64_t ms_per = format == TimeFormat::kUnixS ? 1000 : 1;
  const char* end = text.data() + text.size();
  std::int64_t iv = 0;
  auto [ip, iec] = std::from_chars(text.data(), end, iv);
  if (iec == std::errc() && ip == end) {
    if (ms_per > 1 && (iv > INT64_MAX / ms_per || iv < INT64_MIN / ms_per)) return bad();
    out = floor_div(iv * ms_per, per_ms);
    return Status();
  }
  double d = 0;
  auto [dp, dec] = std::from_chars(text.data(), end, d);
  if (dec != std::errc() || dp != end || !std::isfinite(d)) return bad();
  const double ms = std::floor(d * static_cast<double>(ms_per) / static_cast<double>(per_ms));
  if (!(std::fabs(ms) < 9.0e15)) return bad();
  out = static_cast<std::int64_t>(ms);
  return Status();
}

}  // namespace

Status PayloadParser::json_fields_value(JsonReader& j, int depth, ReadingBuffer& out,
                                        std::size_t first) {
  const wire::Limits& limits = options_.limits;
  const char c = j.peek();
  if (c == '{') {
    if (depth >= kMaxJsonDepth) return j.error("nesting deeper than 32");
    j.eat('{');
    if (j.eat('}')) return Status();
    const std::size_t base = path_.size();
    do {
      ES_RETURN_IF_ERROR(j.string(key_));
      ES_RETURN_IF_ERROR(j.expect(':'));
      if (base > 0) path_.push_back('_');
      path_.append(key_);
      ES_RETURN_IF_ERROR(json_fields_value(j, depth + 1, out, first));
      path_.resize(base);
    } while (j.eat(','));
    return j.expect('}');
  }
  if (c == '[') {
    ES_RETURN_IF_ERROR(j.skip(depth + 1));
    skipped_.add(text_error(kArrayValue, "json_fields: \"" + path_.substr(0, 64) +
                                             "\" is an array (arrays are not read)"));
    return Status();
  }
  const bool is_time = !options_.time_field.empty() && path_ == options_.time_field;
  if (c == '"') {
    ES_RETURN_IF_ERROR(j.string(text_));
    if (is_time) {
      time_seen_ = true;
      time_quoted_ = true;
      time_text_.assign(text_);
      return Status();
    }
    if (options_.strings == StringLeaves::kIgnore) return Status();
  } else if (j.null_literal()) {
    return Status();
  } else if (is_time) {
    std::string_view tok;
    ES_RETURN_IF_ERROR(j.number_token(tok));
    time_seen_ = true;
    time_quoted_ = false;
    time_text_.assign(tok);
    return Status();
  }
  // A leaf that is a reading: numbers, booleans and (kept) strings.
  double value = 0;
  const bool is_label = c == '"';
  if (!is_label) {
    if (j.literal("true")) {
      value = 1;
    } else if (j.literal("false")) {
      value = 0;
    } else {
      ES_RETURN_IF_ERROR(j.number(value));
    }
  }
  // Checks of the leaf alone: a failure skips it.
  auto skip = [&](Status s) {
    skipped_.add(s);
    return Status();
  };
  if (path_.empty()) {
    return skip(text_error(wire::ErrorReason::kMissingField, "json_fields: a leaf with no name"));
  }
  if (path_.size() > limits.max_name_bytes) {
    return skip(text_error(wire::ErrorReason::kNameTooLong,
                           "json_fields: key path \"" + path_.substr(0, 64) + "...\" of " +
                               std::to_string(path_.size()) + " bytes exceeds " +
                               std::to_string(limits.max_name_bytes)));
  }
  if (!valid_text(path_)) {
    return skip(text_error(wire::ErrorReason::kBadString,
                           "json_fields: a key path is not valid UTF-8 or contains NUL"));
  }
  if (is_label) {
    if (text_.size() > limits.max_label_bytes) {
      return skip(text_error(wire::ErrorReason::kLabelTooLong,
                             "json_fields: string \"" + path_ + "\" of " +
                                 std::to_string(text_.size()) + " bytes exceeds max_label_bytes " +
                                 std::to_string(limits.max_label_bytes)));
    }
    if (!valid_text(text_)) {
      return skip(
          text_error(wire::ErrorReason::kBadString,
                     "json_fields: string \"" + path_ + "\" is not valid UTF-8 or contains NUL"));
    }
  }
  if (out.size() - first >= limits.max_readings_per_batch) {
    return skip(text_error(wire::ErrorReason::kTooManyReadings,
                           "json_fields: \"" + path_ + "\" is past max_readings_per_batch " +
                               std::to_string(limits.max_readings_per_batch) + " readings"));
  }
  wire::Reading& r = out.append_for_overwrite();
  set_text(r.metric, path_);
  if (is_label) {
    r.is_label = true;
    r.label.assign(text_);
  } else {
    r.value = value;
  }
  return Status();
}

Status PayloadParser::parse_json_fields(std::string_view payload, std::int64_t now_ms,
                                        ReadingBuffer& out, const TopicFields& topic) {
  const wire::Limits& limits = options_.limits;
  const std::size_t first = out.size();
  path_.clear();
  time_seen_ = false;
  JsonReader j(payload);
  Status s;
  if (j.peek() != '{') {
    s = j.error("json_fields: expected an object");
  } else {
    s = json_fields_value(j, 0, out, first);
    if (s.ok() && !j.at_end()) s = j.error("trailing characters after the JSON value");
  }
  // The payload's own parts: its time and the topic's device and tags.
  std::int64_t ts_ms = now_ms;
  if (s.ok() && !options_.time_field.empty()) {
    if (!time_seen_) {
      s = text_error(wire::ErrorReason::kMissingField,
                     "json_fields: no time field \"" + options_.time_field + "\"");
    } else {
      s = leaf_time_ms(time_text_, time_quoted_, options_.time_format, ts_ms);
    }
  }
  if (s.ok() && ts_ms < limits.min_ts_ms) {
    s = text_error(kBadTimestamp,
                   "json_fields: time " + std::to_string(ts_ms) + " ms is before min_ts_ms " +
                       std::to_string(limits.min_ts_ms) + " (device clock not set?)");
  }
  if (s.ok() && topic.device.empty() && out.size() > first) {
    s = text_error(wire::ErrorReason::kMissingField,
                   "json_fields: no device (the topic names none)");
  }
  if (!s.ok()) {
    out.truncate(first);
    return s;
  }
  for (std::size_t i = first; i < out.size(); ++i) {
    wire::Reading& r = out[i];
    set_text(r.device_id, topic.device);
    r.ts_ms = ts_ms;
    set_tags(r.tags, topic.tags);
  }
  if (out.size() == first && !skipped_.empty()) return skipped_.first();
  return Status();
}

}  // namespace edgesketch::agent
