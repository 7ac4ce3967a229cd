// InfluxDB line protocol (docs/agent.md, "Line protocol"):
//   <measurement>[,<tag>=<value>...] <field>=<value>[,<field>=<value>...] [<timestamp>]
// Measurement, tag keys, tag values and field keys escape ',', ' ' and '=' (and '\') with a
// backslash; string field values are double-quoted with '"' and '\' escaped. The reading's value
// is the field `value` (float, or integer with an i/u suffix; a quoted string makes it a label
// reading) or the string field `label`; other fields are ignored. The tag `device` is the device
// id (not kept as a tag). Empty lines and lines starting with '#' are skipped.
#include <charconv>
#include <cmath>
#include <string>
#include <string_view>

#include "input/payload_parser.h"
#include "input/payload_text.h"

namespace edgesketch::agent {
namespace {

class LineReader {
 public:
  LineReader(std::string_view line, std::size_t line_no) : s_(line), line_no_(line_no) {}

  Status error(std::string_view what) const {
    return text_error(kMalformedLine, "line " + std::to_string(line_no_) + ", column " +
                                          std::to_string(i_ + 1) + ": " + std::string(what));
  }

  bool done() const { return i_ >= s_.size(); }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void advance() { ++i_; }

  // An escaped token up to an unescaped character of `stops`, unescaped into *out.
  Status token(std::string& out, std::string_view stops, std::string_view what) {
    out.clear();
    const std::size_t start = i_;
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == '\\' && i_ + 1 < s_.size()) {
        out.push_back(s_[i_ + 1]);
        i_ += 2;
        continue;
      }
      if (stops.find(c) != std::string_view::npos) break;
      out.push_back(c);
      ++i_;
    }
    if (i_ == start) return error("empty " + std::string(what));
    return Status();
  }

  // A double-quoted string field value into *out.
  Status quoted(std::string& out) {
    out.clear();
    ++i_;  // opening quote
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == '\\' && i_ + 1 < s_.size() && (s_[i_ + 1] == '"' || s_[i_ + 1] == '\\')) {
        out.push_back(s_[i_ + 1]);
        i_ += 2;
        continue;
      }
      if (c == '"') {
        ++i_;
        return Status();
      }
      out.push_back(c);
      ++i_;
    }
    return error("unterminated string field value");
  }

  // An unquoted field value token (up to ',' or ' ').
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

 private:
  std::string_view s_;
  std::size_t i_ = 0;
  std::size_t line_no_;
};

// A numeric field value: float, or integer with an i / u suffix.
bool parse_number(std::string_view tok, double& out) {
  if (tok.empty()) return false;
  if (tok.back() == 'i' || tok.back() == 'u') {
    std::int64_t iv = 0;
    const std::string_view digits = tok.substr(0, tok.size() - 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), iv);
    if (ec != std::errc() || end != digits.data() + digits.size()) {
      std::uint64_t uv = 0;
      auto [uend, uec] = std::from_chars(digits.data(), digits.data() + digits.size(), uv);
      if (uec != std::errc() || uend != digits.data() + digits.size()) return false;
      out = static_cast<double>(uv);
      return true;
    }
    out = static_cast<double>(iv);
    return true;
  }
  if (tok.front() == '+') tok.remove_prefix(1);
  auto [end, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), out);
  if (ec == std::errc::result_out_of_range) {
    out = tok.front() == '-' ? -HUGE_VAL : HUGE_VAL;  // non-finite: the aggregator counts it
    return true;
  }
  return ec == std::errc() && end == tok.data() + tok.size();
}

}  // namespace

Status PayloadParser::parse_line(std::string_view payload, std::int64_t now_ms, ReadingBuffer& out,
                                 std::string_view topic_device) {
  const wire::Limits& limits = options_.limits;
  if (payload.size() > limits.max_payload_bytes) {
    return text_error(wire::ErrorReason::kPayloadTooLarge,
                      "line: " + std::to_string(payload.size()) +
                          " bytes exceed max_payload_bytes " +
                          std::to_string(limits.max_payload_bytes));
  }
  const std::size_t first = out.size();
  batch_tags_.clear();
  std::string field_key;
  std::string field_text;
  auto body = [&]() -> Status {
    std::size_t line_no = 0;
    std::size_t pos = 0;
    while (pos < payload.size()) {
      std::size_t nl = payload.find('\n', pos);
      if (nl == std::string_view::npos) nl = payload.size();
      std::string_view line = payload.substr(pos, nl - pos);
      pos = nl + 1;
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      std::size_t lead = line.find_first_not_of(" \t");
      if (lead == std::string_view::npos || line[lead] == '#') continue;
      line.remove_prefix(lead);
      if (out.size() - first >= limits.max_readings_per_batch) {
        return text_error(wire::ErrorReason::kTooManyReadings,
                          "line: more than max_readings_per_batch " +
                              std::to_string(limits.max_readings_per_batch) + " readings");
      }
      LineReader lr(line, line_no);
      wire::Reading& r = out.append();
      ES_RETURN_IF_ERROR(lr.token(r.metric, ", ", "measurement"));
      while (lr.peek() == ',') {
        lr.advance();
        if (r.tags.size() > limits.max_tags) {
          return text_error(wire::ErrorReason::kTooManyTags,
                            "line " + std::to_string(line_no) + ": more than max_tags " +
                                std::to_string(limits.max_tags) + " tags");
        }
        wire::Tag& t = r.tags.emplace_back();
        ES_RETURN_IF_ERROR(lr.token(t.key, ",= ", "tag key"));
        if (lr.peek() != '=') return lr.error("expected '=' after tag key \"" + t.key + "\"");
        lr.advance();
        ES_RETURN_IF_ERROR(lr.token(t.value, ", ", "tag value"));
        if (t.key == "device") {
          r.device_id = std::move(t.value);
          r.tags.pop_back();
        }
      }
      if (lr.peek() != ' ') return lr.error("expected a space before the fields");
      while (lr.peek() == ' ') lr.advance();
      bool has_value = false;
      bool has_label = false;
      do {
        ES_RETURN_IF_ERROR(lr.token(field_key, ",= ", "field key"));
        if (lr.peek() != '=') return lr.error("expected '=' after field key \"" + field_key + "\"");
        lr.advance();
        const bool is_value = field_key == "value";
        const bool is_label = field_key == "label";
        if (lr.peek() == '"') {
          ES_RETURN_IF_ERROR(lr.quoted(field_text));
          if (is_value || is_label) {
            if (has_value || has_label) return lr.error("both a value and a label");
            has_label = true;
            r.is_label = true;
            r.label = field_text;
          }
        } else {
          std::string_view tok = lr.bare();
          if (is_label) return lr.error("field label must be a quoted string");
          if (is_value) {
            if (has_value || has_label) return lr.error("both a value and a label");
            if (!parse_number(tok, r.value)) {
              return lr.error("field value \"" + std::string(tok) + "\" is not a number");
            }
            has_value = true;
          } else if (tok.empty()) {
            return lr.error("empty field value");
          }
        }
      } while (lr.peek() == ',' && (lr.advance(), true));
      if (!has_value && !has_label) {
        return text_error(
            wire::ErrorReason::kMissingField,
            "line " + std::to_string(line_no) + ": no field 'value' (number) or 'label' (string)");
      }
      r.ts_ms = now_ms;
      if (!lr.done()) {
        if (lr.peek() != ' ') return lr.error("expected a space before the timestamp");
        while (lr.peek() == ' ') lr.advance();
        std::string_view ts = lr.rest();
        while (!ts.empty() && (ts.back() == ' ' || ts.back() == '\t')) ts.remove_suffix(1);
        if (!ts.empty()) {
          std::int64_t v = 0;
          auto [end, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), v);
          if (ec != std::errc() || end != ts.data() + ts.size()) {
            return text_error(kBadTimestamp, "line " + std::to_string(line_no) + ": timestamp \"" +
                                                 std::string(ts) + "\" is not an integer");
          }
          r.ts_ms = line_timestamp_to_ms(v);
        }
      }
    }
    return Status();
  };
  Status s = body();
  if (s.ok()) s = finish_readings(out, first, {}, topic_device);
  if (!s.ok()) out.truncate(first);
  return s;
}

}  // namespace edgesketch::agent
