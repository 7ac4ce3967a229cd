// Integer time arithmetic every layer shares: division rounded toward minus infinity, and the
// start of the window of a given length that holds a time (times before 1970 included).
#pragma once

#include <cstdint>

namespace edgesketch {

// a / b rounded toward minus infinity (b != 0): floor_div(-1, 10) == -1, floor_div(19, 10) == 1.
constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// The start of the window of length w (> 0) that holds t: the largest multiple of w <= t.
constexpr std::int64_t window_floor(std::int64_t t, std::int64_t w) { return floor_div(t, w) * w; }

}  // namespace edgesketch
