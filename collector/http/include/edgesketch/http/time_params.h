// Parsing of the time and duration parameters of the Prometheus HTTP API.
#pragma once

#include <cstdint>
#include <string_view>

#include "edgesketch/common/status.h"

namespace edgesketch::http {

// A timestamp: Unix seconds as a float ("1700000000", "1700000000.123", "1.7e9") or RFC 3339
// ("2023-11-14T22:13:20Z", "2023-11-14T22:13:20.5+01:00"), to milliseconds (rounded to the
// nearest). Also Prometheus' min/max time strings. kInvalidArgument when unparseable or out of
// range (years 0001..9999 for RFC 3339, |seconds| < 1e14 for floats).
Result<std::int64_t> parse_timestamp_ms(std::string_view text);

// A duration: float seconds ("15", "0.5", "-1") or a Prometheus duration ("1m", "1h30m"), to
// milliseconds. kInvalidArgument when unparseable or beyond int64 nanoseconds, in Prometheus'
// words; a negative number of seconds parses (as in Prometheus, the caller rejects it).
Result<std::int64_t> parse_step_ms(std::string_view text);

}  // namespace edgesketch::http
