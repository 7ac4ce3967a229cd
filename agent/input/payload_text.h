// Internal to the payload parsers: the error format, the reasons the text formats add, and the
// per-reading checks the JSON and line protocol parsers share (the nanopb decoder in es_wire
// does its own).
#pragma once

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "edgesketch/common/status.h"
#include "edgesketch/wire/error_reason.h"
#include "edgesketch/wire/limits.h"
#include "edgesketch/wire/types.h"

namespace edgesketch::agent {

// Reasons the text formats add to wire::ErrorReason's vocabulary (metric labels: stable).
inline constexpr std::string_view kMalformedJson = "malformed_json";    // not JSON, or too deep
inline constexpr std::string_view kMalformedLine = "malformed_line";    // line protocol syntax
inline constexpr std::string_view kMalformedValue = "malformed_value";  // value: not a value
inline constexpr std::string_view kBadTimestamp = "bad_timestamp";      // unparsable or < 2000
inline constexpr std::string_view kTopicMismatch = "topic_mismatch";    // not the template's
inline constexpr std::string_view kArrayValue = "array_value";          // json_fields: an array

// The reason name of static storage equal to `name` (a text reason above or a wire reason),
// "unknown" for any other.
std::string_view stable_reason(std::string_view name);

// "<detail> [<reason>]" as kCorruption (syntax) or kOutOfRange (limits), like wire_error().
Status text_error(std::string_view reason, std::string_view detail);
Status text_error(wire::ErrorReason reason, std::string_view detail);

// s = v, skipping the copy when they are equal already (a reused reading slot).
inline void set_text(std::string& s, std::string_view v) {
  if (s.size() != v.size() || std::memcmp(s.data(), v.data(), v.size()) != 0) s.assign(v);
}

// tags = the (key, value) pairs `kv` (anything with .key and .value views), slot by slot.
template <typename KeyValues>
void set_tags(std::vector<wire::Tag>& tags, const KeyValues& kv) {
  tags.resize(kv.size());
  for (std::size_t i = 0; i < kv.size(); ++i) {
    set_text(tags[i].key, kv[i].key);
    set_text(tags[i].value, kv[i].value);
  }
}

// Valid UTF-8 without NUL.
bool valid_text(std::string_view s);

// Checks one name: present when `required`, at most `max` bytes (else `too_long`), valid UTF-8
// without NUL. `what` names it in the error ("line 3: tag key").
Status check_name(std::string_view what, std::string_view s, std::size_t max, bool required,
                  wire::ErrorReason too_long);

// Checks a completed reading: device id and metric present, strings within the limits and valid
// UTF-8, tags (already sorted) unique and at most max_tags, timestamp not below min_ts_ms.
// `index` names it in the error ("reading 3"). Builds no string unless it fails.
Status check_reading(const wire::Reading& r, const wire::Limits& limits, std::size_t index);

}  // namespace edgesketch::agent
