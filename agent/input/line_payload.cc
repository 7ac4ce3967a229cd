// InfluxDB line protocol (docs/agent.md, "Line protocol"):
//   <measurement>[,<tag>=<value>...] <field>=<value>[,<field>=<value>...] [<timestamp>]
// Measurement, tag keys, tag values and field keys escape ',', ' ' and '=' (and '\') with a
// backslash; string field values are double-quoted with '"' and '\' escaped. Every field is a
// reading: `value` of metric <measurement> (a quoted string makes it a label reading), the string
// field `label` a label reading of <measurement>, any other field f of metric <measurement>_<f>
// (floats; integers with an i or u suffix; booleans t/true/f/false in any of InfluxDB's
// spellings as 1 / 0; strings as labels). The tag named by ParserOptions::device_tag is the
// device id (not kept as a tag). Empty lines and lines starting with '#' are skipped.
//
// A line is the unit of error: it yields all of its readings or none, and a bad line is skipped
// (and counted) without touching the others. The hot path copies nothing but the readings'
// strings: tokens are views into the payload unless they hold escapes, checks run once per line
// (the whole line's UTF-8 in one pass), not once per reading.
#include <algorithm>
#include <charconv>
#include <cstring>
#include <string>
#include <string_view>

#include "input/number_text.h"
#include "input/payload_parser.h"
#include "input/payload_text.h"

namespace edgesketch::agent {
namespace {

// InfluxDB's boolean spellings.
bool parse_bool(std::string_view tok, double& out) {
  if (tok == "t" || tok == "T" || tok == "true" || tok == "True" || tok == "TRUE") {
    out = 1;
    return true;
  }
  if (tok == "f" || tok == "F" || tok == "false" || tok == "False" || tok == "FALSE") {
    out = 0;
    return true;
  }
  return false;
}

// An unquoted field value: float, integer with an i / u suffix, or boolean.
bool parse_field_number(std::string_view tok, double& out) {
  if (tok.empty()) return false;
  const char last = tok.back();
  if (last == 'i' || last == 'u') {
    const std::string_view digits = tok.substr(0, tok.size() - 1);
    const char* end = digits.data() + digits.size();
    if (last == 'i') {
      std::int64_t iv = 0;
      auto [p, ec] = std::from_chars(digits.data(), end, iv);
      if (ec != std::errc() || p != end) return false;
      out = static_cast<double>(iv);
    } else {
      std::uint64_t uv = 0;
      auto [p, ec] = std::from_chars(digits.data(), end, uv);
      if (ec != std::errc() || p != end) return false;
      out = static_cast<double>(uv);
    }
    return true;
  }
  if ((last < '0' || last > '9') && last != '.') return parse_bool(tok, out);
  if (tok.front() == '+') tok.remove_prefix(1);
  return parse_decimal(tok, out);  // out of range: non-finite, the aggregator counts it
}

// metric = "<measurement>_<field>", skipping the copy when it holds that already.
void set_metric(std::string& metric, std::string_view measurement, std::string_view field) {
  const std::size_t n = measurement.size();
  if (metric.size() == n + 1 + field.size() && metric[n] == '_' &&
      std::memcmp(metric.data(), measurement.data(), n) == 0 &&
      std::memcmp(metric.data() + n + 1, field.data(), field.size()) == 0) {
    return;
  }
  metric.assign(measurement);
  metric.push_back('_');
  metric.append(field);
}

// A cursor over one line; the views it returns point into the line or into `unescaped`, whose
// capacity the caller reserved to the line's length (so appending never moves it).
class LineCursor {
 public:
  LineCursor(std::string_view line, std::size_t line_no, std::string& unescaped)
      : s_(line), line_no_(line_no), unescaped_(unescaped) {}

  Status error(std::string_view what) const {
    return text_error(kMalformedLine, "line " + std::to_string(line_no_) + ", column " +
                                          std::to_string(i_ + 1) + ": " + std::string(what));
  }
  Status error(wire::ErrorReason reason, std::string_view what) const {
    return text_error(reason, "line " + std::to_string(line_no_) + ": " + std::string(what));
  }

  bool done() const { return i_ >= s_.size(); }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void advance() { ++i_; }
  void skip_spaces() {
    while (i_ < s_.size() && s_[i_] == ' ') ++i_;
  }

  // A token up to an unescaped ',' or ' ' (and '=' when `stop_at_equals`), unescaped; empty
  // when there is none.
  std::string_view token(bool stop_at_equals) {
    const std::size_t start = i_;
    bool escaped = false;
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == '\\' && i_ + 1 < s_.size()) {
        escaped = true;
        i_ += 2;
        continue;
      }
      if (c == ',' || c == ' ' || (stop_at_equals && c == '=')) break;
      ++i_;
    }
    const std::string_view raw = s_.substr(start, i_ - start);
    if (!escaped) return raw;
    const std::size_t from = unescaped_.size();
    for (std::size_t k = 0; k < raw.size(); ++k) {
      if (raw[k] == '\\' && k + 1 < raw.size()) ++k;
      unescaped_.push_back(raw[k]);
    }
    return std::string_view(unescaped_.data() + from, unescaped_.size() - from);
  }

  // A double-quoted string field value (at the opening quote), unescaped.
  Status quoted(std::string_view& out) {
    const std::size_t start = ++i_;
    bool escaped = false;
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == '\\' && i_ + 1 < s_.size() && (s_[i_ + 1] == '"' || s_[i_ + 1] == '\\')) {
        escaped = true;
        i_ += 2;
        continue;
      }
      if (c == '"') break;
      ++i_;
    }
    if (i_ >= s_.size()) return error("unterminated string field value");
    const std::string_view raw = s_.substr(start, i_ - start);
    ++i_;  // closing quote
    if (!escaped) {
      out = raw;
      return Status();
    }
    const std::size_t from = unescaped_.size();
    for (std::size_t k = 0; k < raw.size(); ++k) {
      if (raw[k] == '\\' && k + 1 < raw.size() && (raw[k + 1] == '"' || raw[k + 1] == '\\')) ++k;
      unescaped_.push_back(raw[k]);
    }
    out = std::string_view(unescaped_.data() + from, unescaped_.size() - from);
    return Status();
  }

  // An unquoted field value (up to ',' or ' ').
  std::string_view bare() {
    const std::size_t start = i_;
    while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != ' ') ++i_;
    return s_.substr(start, i_ - start);
  }

  std::string_view rest() {
    std::string_view r = s_.substr(i_);
    i_ = s_.size();
    return r;
  }

  std::size_t line_no() const { return line_no_; }

 private:
  std::string_view s_;
  std::size_t i_ = 0;
  std::size_t line_no_;
  std::string& unescaped_;
};

}  // namespace

Status PayloadParser::parse_line(std::string_view payload, std::int64_t now_ms, ReadingBuffer& out,
                                 const TopicFields& topic) {
  const std::size_t first = out.size();
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < payload.size()) {
    const char* nl =
        static_cast<const char*>(std::memchr(payload.data() + pos, '\n', payload.size() - pos));
    const std::size_t end =
        nl == nullptr ? payload.size() : static_cast<std::size_t>(nl - payload.data());
    std::string_view line = payload.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::size_t lead = line.find_first_not_of(" \t");
    if (lead == std::string_view::npos || line[lead] == '#') continue;
    line.remove_prefix(lead);
    Status s = parse_one_line(line, line_no, now_ms, out, first, topic);
    if (!s.ok()) skipped_.add(s);
  }
  // Nothing taken and something skipped: the payload is refused with its first error.
  if (out.size() == first && !skipped_.empty()) return skipped_.first();
  return Status();
}

Status PayloadParser::parse_one_line(std::string_view line, std::size_t line_no,
                                     std::int64_t now_ms, ReadingBuffer& out, std::size_t first,
                                     const TopicFields& topic) {
  const wire::Limits& limits = options_.limits;
  const auto name_too_long = wire::ErrorReason::kNameTooLong;
  unescaped_.clear();
  if (unescaped_.capacity() < line.size()) unescaped_.reserve(line.size());
  line_tags_.clear();
  line_fields_.clear();
  LineCursor lc(line, line_no, unescaped_);

  // Syntax first: measurement, tags, fields, timestamp.
  const std::string_view measurement = lc.token(false);
  if (measurement.empty()) return lc.error("empty measurement");
  std::string_view device;
  bool has_device_tag = false;
  while (lc.peek() == ',') {
    lc.advance();
    const std::string_view key = lc.token(true);
    if (key.empty()) return lc.error("empty tag key");
    if (lc.peek() != '=')
      return lc.error("expected '=' after tag key \"" + std::string(key) + "\"");
    lc.advance();
    const std::string_view value = lc.token(false);
    if (value.empty()) return lc.error("empty tag value");
    if (key == options_.device_tag) {
      if (has_device_tag) {
        return lc.error(wire::ErrorReason::kDuplicateTag,
                        "tag key \"" + std::string(key) + "\" appears twice");
      }
      has_device_tag = true;
      device = value;
      continue;
    }
    if (line_tags_.size() > limits.max_tags) {
      return lc.error(wire::ErrorReason::kTooManyTags,
                      "more than max_tags " + std::to_string(limits.max_tags) + " tags");
    }
    line_tags_.push_back(TopicTag{key, value});
  }
  if (lc.peek() != ' ') return lc.error("expected a space before the fields");
  lc.skip_spaces();
  do {
    LineField f;
    f.key = lc.token(true);
    if (f.key.empty()) return lc.error("empty field key");
    if (lc.peek() != '=') {
      return lc.error("expected '=' after field key \"" + std::string(f.key) + "\"");
    }
    lc.advance();
    if (lc.peek() == '"') {
      ES_RETURN_IF_ERROR(lc.quoted(f.text));
      f.is_string = true;
    } else {
      const std::string_view tok = lc.bare();
      if (tok.empty()) return lc.error("empty value of field \"" + std::string(f.key) + "\"");
      if (f.key == "label") return lc.error("field label must be a quoted string");
      if (!parse_field_number(tok, f.value)) {
        return lc.error("value \"" + std::string(tok) + "\" of field \"" + std::string(f.key) +
                        "\" is not a number or boolean");
      }
    }
    line_fields_.push_back(f);
  } while (lc.peek() == ',' && (lc.advance(), true));
  std::int64_t ts_ms = now_ms;
  if (!lc.done()) {
    if (lc.peek() != ' ') return lc.error("expected a space before the timestamp");
    lc.skip_spaces();
    std::string_view ts = lc.rest();
    while (!ts.empty() && (ts.back() == ' ' || ts.back() == '\t')) ts.remove_suffix(1);
    if (!ts.empty()) {
      std::int64_t v = 0;
      auto [end, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), v);
      if (ec != std::errc() || end != ts.data() + ts.size()) {
        return text_error(kBadTimestamp, "line " + std::to_string(line_no) + ": timestamp \"" +
                                             std::string(ts) + "\" is not an integer");
      }
      ts_ms = line_timestamp_to_ms(v);
    }
  }

  // Then what the readings must satisfy, once for the whole line.
  if (!valid_text(line)) {
    return lc.error(wire::ErrorReason::kBadString, "not valid UTF-8 or contains NUL");
  }
  if (!has_device_tag) device = topic.device;
  if (device.empty()) {
    return lc.error(wire::ErrorReason::kMissingField,
                    "no device: no tag \"" + options_.device_tag + "\" and none from the topic");
  }
  if (device.size() > limits.max_name_bytes) {
    return lc.error(name_too_long, "device id of " + std::to_string(device.size()) +
                                       " bytes exceeds " + std::to_string(limits.max_name_bytes));
  }
  if (ts_ms < limits.min_ts_ms) {
    return text_error(kBadTimestamp, "line " + std::to_string(line_no) + ": timestamp " +
                                         std::to_string(ts_ms) + " ms is before min_ts_ms " +
                                         std::to_string(limits.min_ts_ms) +
                                         " (device clock not set?)");
  }
  // The topic's tags the line lacks, then sorted by key: duplicates become neighbours.
  const std::size_t own_tags = line_tags_.size();
  for (const TopicTag& tt : topic.tags) {
    bool has = false;
    for (std::size_t i = 0; i < own_tags; ++i) has |= line_tags_[i].key == tt.key;
    if (!has) line_tags_.push_back(tt);
  }
  if (line_tags_.size() > limits.max_tags) {
    return lc.error(wire::ErrorReason::kTooManyTags, std::to_string(line_tags_.size()) +
                                                         " tags exceed max_tags " +
                                                         std::to_string(limits.max_tags));
  }
  std::sort(line_tags_.begin(), line_tags_.end(),
            [](const TopicTag& a, const TopicTag& b) { return a.key < b.key; });
  for (std::size_t i = 0; i < line_tags_.size(); ++i) {
    const TopicTag& t = line_tags_[i];
    if (i > 0 && line_tags_[i - 1].key == t.key) {
      return lc.error(wire::ErrorReason::kDuplicateTag,
                      "tag key \"" + std::string(t.key) + "\" appears twice");
    }
    if (t.key.size() > limits.max_name_bytes || t.value.size() > limits.max_name_bytes) {
      return lc.error(name_too_long, "tag \"" + std::string(t.key.substr(0, 32)) +
                                         "\": key or value longer than " +
                                         std::to_string(limits.max_name_bytes) + " bytes");
    }
  }
  for (const LineField& f : line_fields_) {
    const bool own_metric = f.key == "value" || f.key == "label";
    const std::size_t metric_bytes = measurement.size() + (own_metric ? 0 : 1 + f.key.size());
    if (metric_bytes > limits.max_name_bytes) {
      return lc.error(name_too_long, "metric of field \"" + std::string(f.key.substr(0, 32)) +
                                         "\" would be " + std::to_string(metric_bytes) +
                                         " bytes, more than " +
                                         std::to_string(limits.max_name_bytes));
    }
    if (f.is_string && f.text.size() > limits.max_label_bytes) {
      return lc.error(wire::ErrorReason::kLabelTooLong,
                      "string field \"" + std::string(f.key.substr(0, 32)) + "\" of " +
                          std::to_string(f.text.size()) + " bytes exceeds max_label_bytes " +
                          std::to_string(limits.max_label_bytes));
    }
  }
  if (out.size() - first + line_fields_.size() > limits.max_readings_per_batch) {
    return lc.error(wire::ErrorReason::kTooManyReadings,
                    "past max_readings_per_batch " + std::to_string(limits.max_readings_per_batch) +
                        " readings");
  }

  // The readings: nothing below can fail.
  for (const LineField& f : line_fields_) {
    wire::Reading& r = out.append_for_overwrite();
    set_text(r.device_id, device);
    if (f.key == "value" || f.key == "label") {
      set_text(r.metric, measurement);
    } else {
      set_metric(r.metric, measurement, f.key);
    }
    set_tags(r.tags, line_tags_);
    r.ts_ms = ts_ms;
    if (f.is_string) {
      r.is_label = true;
      r.label.assign(f.text);
    } else {
      r.value = f.value;
    }
  }
  return Status();
}

}  // namespace edgesketch::agent
