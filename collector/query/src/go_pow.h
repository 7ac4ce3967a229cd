// Go's math.Pow, which PromQL's `^` is: Prometheus' answers depend on its exact rounding.
#pragma once

namespace edgesketch::query {

// x^y as Go 1.19's math.Pow computes it: its special cases (IEEE 754-2008 §9.2.1, in Go's order),
// then x's frexp mantissa squared repeatedly for the integer part of |y| (rounding after each
// product, renormalised to [0.5, 1) with the binary exponent kept apart) times
// exp(f · ln x) for the fractional part f (taken in (-0.5, 0.5]), reciprocal for y < 0. Integer
// exponents give Go's bits exactly; a fractional part goes through this C library's exp and log,
// which may differ from Go's in the last bit (docs/query.md).
double go_pow(double x, double y);

}  // namespace edgesketch::query
