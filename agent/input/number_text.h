// Internal to the text payload parsers: decimal numbers to doubles, correctly rounded. The values
// devices send are short ("22.13", "1013.25", "48"): those take Clinger's fast path (a mantissa
// below 2^53 and a power of ten up to 1e22 are exact doubles, so one multiplication or division
// rounds correctly); anything else goes to std::from_chars.
#pragma once

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string_view>

namespace edgesketch::agent {

// The whole of `text` as a JSON-style number: optional '-', digits with an optional fraction and
// exponent (a leading '.' or a trailing '.' as strtod reads them). Out of range: +-HUGE_VAL
// (non-finite; the aggregator counts it). False when `text` is not a number in full.
inline bool parse_decimal(std::string_view text, double& out) {
  static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                      1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                      1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const char* p = text.data();
  const char* const end = p + text.size();
  const bool negative = p != end && *p == '-';
  if (negative) ++p;
  std::uint64_t mantissa = 0;
  int digits = 0;  // significant digits in the mantissa
  int exp10 = 0;
  int explicit_exp10 = 0;
  // Roughly the power of ten of the first significant digit before the exponent (integer digits
  // after leading zeros; minus the fraction's leading zeros): only its sign matters, and only
  // for a value std::from_chars finds out of range.
  int first_digit_power = 0;
  bool seen_significant = false;
  bool any = false;
  for (; p != end && *p >= '0' && *p <= '9'; ++p) {
    any = true;
    if (seen_significant || *p != '0') {
      seen_significant = true;
      ++first_digit_power;
    }
    if (digits < 19) {
      mantissa = mantissa * 10 + static_cast<std::uint64_t>(*p - '0');
      digits += mantissa != 0;
    } else {
      digits = 99;  // too long for the fast path
    }
  }
  if (p != end && *p == '.') {
    ++p;
    for (; p != end && *p >= '0' && *p <= '9'; ++p) {
      any = true;
      if (!seen_significant) {
        if (*p == '0') {
          --first_digit_power;
        } else {
          seen_significant = true;
        }
      }
      if (digits < 19) {
        mantissa = mantissa * 10 + static_cast<std::uint64_t>(*p - '0');
        digits += mantissa != 0;
        --exp10;
      } else {
        digits = 99;
      }
    }
  }
  bool fast = any && digits <= 19;
  if (p != end && (*p == 'e' || *p == 'E')) {
    ++p;
    const bool neg_exp = p != end && *p == '-';
    if (p != end && (*p == '-' || *p == '+')) ++p;
    int e = 0;
    const char* digits_start = p;
    for (; p != end && *p >= '0' && *p <= '9'; ++p) {
      if (e < 10000) e = e * 10 + (*p - '0');
    }
    if (p == digits_start) return false;
    explicit_exp10 = neg_exp ? -e : e;
    exp10 += explicit_exp10;
  }
  if (p != end || !any) return false;
  if (fast && mantissa <= (std::uint64_t{1} << 53) && exp10 >= -22 && exp10 <= 22) {
    double v = static_cast<double>(mantissa);
    v = exp10 < 0 ? v / kPow10[-exp10] : v * kPow10[exp10];
    out = negative ? -v : v;
    return true;
  }
  auto [q, ec] = std::from_chars(text.data(), end, out);
  if (ec == std::errc::result_out_of_range && q == end) {
    // Too large (infinite) or too small (zero): the leading digit's power of ten tells.
    const bool tiny = first_digit_power + explicit_exp10 < 0;
    out = tiny ? 0.0 : HUGE_VAL;
    if (negative) out = -out;
    return true;
  }
  return ec == std::errc() && q == end;
}

}  // namespace edgesketch::agent
