// Topic templates of an [[input]] (`topic_template`, docs/agent.md "Topic templates"): which
// levels of an MQTT topic name the device, the metric and tags of the payload's readings.
//   "zigbee2mqtt/{device}"                tele/<device>/SENSOR: "tele/{device}/SENSOR"
//   "shellies/{device}/sensor/{metric}"   "plant/{site}/{line}/{device}/state"
// Each level of a template is a literal (the topic's level must equal it), "+" (any value,
// ignored), "{device}", "{metric}" or "{name}" (any other name: tag `name`). A topic matches when
// it has exactly as many levels and every literal level is equal.
//
// Thread safety: a TopicTemplate is immutable after parse(); match() is const and may run on
// any number of threads (each with its own TopicFields).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "edgesketch/common/status.h"

namespace edgesketch::agent {

struct TopicTag {
  std::string_view key;
  std::string_view value;
};

// What a topic says about the readings of its payload. The views point into the topic and the
// template; valid while both are.
struct TopicFields {
  std::string_view device;     // "" when the topic names none
  std::string_view metric;     // "" when the topic names none
  std::vector<TopicTag> tags;  // sorted by key, keys unique
};

class TopicTemplate {
 public:
  // The empty template (matches nothing; PayloadParser then takes the device from
  // ".../devices/<id>/..." topics).
  TopicTemplate() = default;

  // Most levels of a template.
  static constexpr std::size_t kMaxLevels = 32;

  // kInvalidArgument naming the problem for: an empty template or level, '#', '+' or '{' '}'
  // inside a level, an empty placeholder, a name used twice, more than kMaxLevels levels or
  // more than `max_tags` tags.
  static Result<TopicTemplate> parse(std::string_view text, std::size_t max_tags = 16);

  bool empty() const { return levels_.empty(); }
  const std::string& text() const { return text_; }
  bool names_metric() const { return names_metric_; }
  // The subscription filter that receives every topic the template matches (placeholders
  // become "+"): "zigbee2mqtt/{device}" -> "zigbee2mqtt/+".
  std::string filter() const;

  // Fills `out` (its tags replaced) and returns true when `topic` matches.
  bool match(std::string_view topic, TopicFields& out) const;

 private:
  enum class Kind : std::uint8_t { kLiteral, kAny, kDevice, kMetric, kTag };
  struct Level {
    Kind kind = Kind::kLiteral;
    std::string text;  // the literal, or the tag name
  };

  std::string text_;
  std::vector<Level> levels_;
  std::vector<std::size_t> tag_levels_;  // indexes of the tag levels, sorted by tag name
  bool names_metric_ = false;
};

}  // namespace edgesketch::agent
