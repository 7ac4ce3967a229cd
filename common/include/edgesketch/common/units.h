// Parsing of the human units config files use: durations ("250ms", "10s", "5m", "2h", "7d") and
// byte sizes ("512", "64KiB", "256MiB", "2GiB", also "KB"/"MB"/"GB" as powers of 1000).
#pragma once

#include <cstdint>
#include <string_view>

#include "edgesketch/common/status.h"

namespace edgesketch {

// Milliseconds of a duration: a non-negative integer followed by ms, s, m, h or d ("0" alone is
// allowed). InvalidArgument naming the text otherwise, or on overflow.
Result<std::int64_t> parse_duration_ms(std::string_view text);

// Bytes of a size: a non-negative integer, optionally followed by B, KiB, MiB, GiB, TiB, KB, MB,
// GB or TB. InvalidArgument naming the text otherwise, or on overflow.
Result<std::uint64_t> parse_bytes(std::string_view text);

}  // namespace edgesketch
