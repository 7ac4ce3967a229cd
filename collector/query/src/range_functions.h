// The `*_over_time` functions, rate() and increase() over the samples of one range, with
// Prometheus' arithmetic (Kahan-Neumaier sums, incremental means).
#pragma once

#include <cstdint>
#include <span>

namespace edgesketch::query {

enum class RangeFunction : unsigned char {
  kAvg,
  kCount,
  kLast,
  kMax,
  kMin,
  kSum,
  kQuantile,
  kStddev,
  kStdvar,
  kPresent,
  kIncrease,
  kRate,
};

// Prometheus' quantile(): φ of `values` with linear interpolation between neighbours (NaNs sort
// first; φ < 0 gives -Inf, φ > 1 +Inf, no values or NaN φ NaN). Used by quantile() and
// quantile_over_time().
double sample_quantile(double phi, std::span<const double> values);

// f over `values` (at least one, in time order). `param`: φ of quantile_over_time. `range_ms`:
// the range of rate(), whose result is per second. Windows of _count and _sum views are
// increments, so increase() is their sum over the range and rate() that sum per second: the
// windows tile the range exactly and nothing is extrapolated.
double apply_range_function(RangeFunction f, std::span<const double> values, double param,
                            std::int64_t range_ms);

}  // namespace edgesketch::query
