// RFC 3339 timestamps as Unix milliseconds, and the civil-date arithmetic under them; shared by
// the collector's HTTP API (time parameters) and the agent's JSON time fields.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace edgesketch {

// Days since 1970-01-01 of a proleptic Gregorian date (month 1..12, day 1..31).
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day);

// "2023-11-14T22:13:20Z", "2023-11-14T22:13:20.5+01:00" (years 0001..9999, a fraction of up to 9
// digits rounded to the nearest millisecond, 'T'/'Z' in either case) to Unix milliseconds;
// nullopt for anything else. With `offset_optional` a time without a zone designator
// ("2026-12-07T14:00:00", as Tasmota sends its local time) is taken as UTC.
std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text, bool offset_optional = false);

}  // namespace edgesketch
