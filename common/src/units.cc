#include "edgesketch/common/units.h"

#include <fmt/format.h>

#include <limits>

namespace edgesketch {

namespace {

// The leading digits of `text` as a number; `rest` gets what follows them.
bool leading_number(std::string_view text, std::uint64_t& value, std::string_view& rest) {
  std::size_t i = 0;
  value = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return false;
    value = value * 10 + digit;
    ++i;
  }
  rest = text.substr(i);
  return i > 0;
}

bool scale(std::uint64_t value, std::uint64_t factor, std::uint64_t limit, std::uint64_t& out) {
  if (factor != 0 && value > limit / factor) return false;
  out = value * factor;
  return true;
}

}  // namespace

Result<std::int64_t> parse_duration_ms(std::string_view text) {
  const auto bad = [&] {
    return Status::invalid_argument(
        fmt::format("'{}' is not a duration (use e.g. 250ms, 10s, 5m, 2h, 7d)", text));
  };
  std::uint64_t n = 0;
  std::string_view unit;
  if (!leading_number(text, n, unit)) return bad();
  std::uint64_t factor = 0;
  if (unit == "ms") {
    factor = 1;
  } else if (unit == "s") {
    factor = 1000;
  } else if (unit == "m") {
    factor = 60'000;
  } else if (unit == "h") {
    factor = 3'600'000;
  } else if (unit == "d") {
    factor = 86'400'000;
  } else if (unit.empty() && n == 0) {
    factor = 1;
  } else {
    return bad();
  }
  std::uint64_t ms = 0;
  if (!scale(n, factor, std::numeric_limits<std::int64_t>::max(), ms)) return bad();
  return static_cast<std::int64_t>(ms);
}

Result<std::uint64_t> parse_bytes(std::string_view text) {
  const auto bad = [&] {
    return Status::invalid_argument(
        fmt::format("'{}' is not a size (use e.g. 4096, 64KiB, 256MiB, 2GiB)", text));
  };
  std::uint64_t n = 0;
  std::string_view unit;
  if (!leading_number(text, n, unit)) return bad();
  std::uint64_t factor = 0;
  if (unit.empty() || unit == "B") {
    factor = 1;
  } else if (unit == "KiB") {
    factor = std::uint64_t{1} << 10;
  } else if (unit == "MiB") {
    factor = std::uint64_t{1} << 20;
  } else if (unit == "GiB") {
    factor = std::uint64_t{1} << 30;
  } else if (unit == "TiB") {
    factor = std::uint64_t{1} << 40;
  } else if (unit == "KB") {
    factor = 1000;
  } else if (unit == "MB") {
    factor = 1000'000;
  } else if (unit == "GB") {
    factor = 1000'000'000;
  } else if (unit == "TB") {
    factor = 1000'000'000'000;
  } else {
    return bad();
  }
  std::uint64_t bytes = 0;
  if (!scale(n, factor, std::numeric_limits<std::uint64_t>::max(), bytes)) return bad();
  return bytes;
}

}  // namespace edgesketch
