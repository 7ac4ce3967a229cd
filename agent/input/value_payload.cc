// value (docs/agent.md, "Bare values"): the payload is one value, as Home Assistant, ESPHome and
// Shelly publish sensor states on topics of their own (shellies/<device>/sensor/temperature ->
// "21.5"). A number (surrounding whitespace ignored) is the reading's value, true / false
// (any case) are 1 / 0, anything else short and printable is a label ("unavailable", "E017").
// The topic's template names the device and the metric; the reading gets the receive time.
#include <cctype>
#include <string>
#include <string_view>

#include "input/number_text.h"
#include "input/payload_parser.h"
#include "input/payload_text.h"

namespace edgesketch::agent {
namespace {

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  }
  return true;
}

// A number in full: decimal or exponent form, an optional sign ("+" too).
bool parse_number(std::string_view text, double& out) {
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return false;
  const char c = text.front();
  // "inf" and "nan" stay labels.
  if (!(c == '-' || c == '.' || (c >= '0' && c <= '9'))) return false;
  return parse_decimal(text, out);  // out of range: non-finite, the aggregator counts it
}

}  // namespace

Status PayloadParser::parse_value(std::string_view payload, std::int64_t now_ms, ReadingBuffer& out,
                                  const TopicFields& topic) {
  const wire::Limits& limits = options_.limits;
  std::string_view text = payload;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  if (text.empty()) return text_error(wire::ErrorReason::kMissingField, "value: empty payload");
  if (topic.metric.empty()) {
    return text_error(wire::ErrorReason::kMissingField,
                      "value: no metric (the topic template names no {metric})");
  }
  if (topic.device.empty()) {
    return text_error(wire::ErrorReason::kMissingField, "value: no device (the topic names none)");
  }
  if (now_ms < limits.min_ts_ms) {
    return text_error(kBadTimestamp,
                      "value: receive time " + std::to_string(now_ms) + " ms is before min_ts_ms");
  }
  double v = 0;
  bool is_label = false;
  if (equals_ignoring_case(text, "true")) {
    v = 1;
  } else if (equals_ignoring_case(text, "false")) {
    v = 0;
  } else if (!parse_number(text, v)) {
    if (text.front() == '{' || text.front() == '[') {
      return text_error(kMalformedValue,
                        "value: the payload is a JSON object or array, not a bare value "
                        "(format = \"json_fields\" reads those)");
    }
    if (text.size() > limits.max_label_bytes) {
      return text_error(wire::ErrorReason::kLabelTooLong,
                        "value: a label of " + std::to_string(text.size()) +
                            " bytes exceeds max_label_bytes " +
                            std::to_string(limits.max_label_bytes));
    }
    for (char c : text) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7f) {
        return text_error(wire::ErrorReason::kBadString, "value: a control character in a label");
      }
    }
    if (!valid_text(text)) {
      return text_error(wire::ErrorReason::kBadString, "value: a label that is not valid UTF-8");
    }
    is_label = true;
  }
  wire::Reading& r = out.append_for_overwrite();
  set_text(r.device_id, topic.device);
  set_text(r.metric, topic.metric);
  set_tags(r.tags, topic.tags);
  r.ts_ms = now_ms;
  if (is_label) {
    r.is_label = true;
    r.label.assign(text);
  } else {
    r.value = v;
  }
  return Status();
}

}  // namespace edgesketch::agent
