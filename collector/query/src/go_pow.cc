// go_pow: Go's algorithm for x^y (go_pow.h). It is not the correctly rounded pow of the C
// library: an integer power is a chain of rounded products, which Prometheus users see bit for
// bit in their answers.
#include "go_pow.h"

#include <cmath>
#include <cstdint>
#include <limits>

namespace edgesketch::query {
namespace {

bool is_odd_integer(double v) {
  double whole = 0;
  if (std::modf(v, &whole) != 0) return false;
  // Go converts the integral part with int64(): beyond 2^63 every double is even anyway.
  if (std::fabs(whole) >= 9.2233720368547758e18) return false;
  return (static_cast<std::int64_t>(whole) & 1) == 1;
}

}  // namespace

double go_pow(double x, double y) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (y == 0 || x == 1) return 1;
  if (y == 1) return x;
  if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<double>::quiet_NaN();
  if (x == 0) {
    if (y < 0) return is_odd_integer(y) ? std::copysign(kInf, x) : kInf;
    return is_odd_integer(y) ? x : 0.0;  // y > 0 (y == 0 returned above)
  }
  if (std::isinf(y)) {
    if (x == -1) return 1;
    return (std::fabs(x) < 1) == (y > 0) ? 0.0 : kInf;
  }
  if (std::isinf(x)) {
    if (x < 0) return go_pow(1 / x, -y);  // (-Inf)^y = (-0)^-y
    return y < 0 ? 0.0 : kInf;
  }
  if (y == 0.5) return std::sqrt(x);
  if (y == -0.5) return 1 / std::sqrt(x);

  double whole = 0;
  double frac = std::modf(std::fabs(y), &whole);
  if (frac != 0 && x < 0) return std::numeric_limits<double>::quiet_NaN();
  if (whole >= 9.2233720368547758e18) {
    // A huge even integer: overflow or underflow for every x but -1.
    if (x == -1) return 1;
    return (std::fabs(x) < 1) == (y > 0) ? 0.0 : kInf;
  }

  // The answer is mantissa · 2^exponent.
  double mantissa = 1;
  long exponent = 0;
  if (frac != 0) {
    if (frac > 0.5) {
      frac -= 1;
      whole += 1;
    }
    mantissa = std::exp(frac * std::log(x));
  }
  int xe = 0;
  double x1 = std::frexp(x, &xe);
  long base_exponent = xe;
  for (auto bits = static_cast<std::int64_t>(whole); bits != 0; bits >>= 1) {
    if (base_exponent < -(1L << 12) || (1L << 12) < base_exponent) {
      // The exponent alone already over- or underflows: ldexp below saturates.
      exponent += base_exponent;
      break;
    }
    if ((bits & 1) == 1) {
      mantissa *= x1;
      exponent += base_exponent;
    }
    x1 *= x1;
    base_exponent <<= 1;
    if (x1 < 0.5) {
      x1 += x1;
      --base_exponent;
    }
  }
  if (y < 0) {
    mantissa = 1 / mantissa;
    exponent = -exponent;
  }
  // ldexp rounds once, as Go's Ldexp does; clamp so the int conversion cannot wrap.
  const long clamped = exponent < -100000 ? -100000 : (exponent > 100000 ? 100000 : exponent);
  return std::ldexp(mantissa, static_cast<int>(clamped));
}

}  // namespace edgesketch::query
