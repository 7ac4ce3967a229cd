// Internal to the payload parsers: the error format and the per-reading checks the JSON and line
// protocol parsers share (the nanopb decoder in es_wire does its own).
#pragma once

#include <string>
#include <string_view>

#include "edgesketch/common/status.h"
#include "edgesketch/wire/error_reason.h"
#include "edgesketch/wire/limits.h"
#include "edgesketch/wire/types.h"

namespace edgesketch::agent {

// Reasons the text formats add to wire::ErrorReason's vocabulary.
inline constexpr std::string_view kMalformedJson = "malformed_json";
inline constexpr std::string_view kMalformedLine = "malformed_line";
inline constexpr std::string_view kBadTimestamp = "bad_timestamp";

// "<detail> [<reason>]" as kCorruption (syntax) or kOutOfRange (limits), like wire_error().
Status text_error(std::string_view reason, std::string_view detail);
Status text_error(wire::ErrorReason reason, std::string_view detail);

// Valid UTF-8 without NUL.
bool valid_text(std::string_view s);

// Checks a completed reading: device id and metric present, strings within the limits and valid
// UTF-8, tags (already sorted) unique and at most max_tags, timestamp not below min_ts_ms.
Status check_reading(const wire::Reading& r, const wire::Limits& limits, std::string_view where);

}  // namespace edgesketch::agent
