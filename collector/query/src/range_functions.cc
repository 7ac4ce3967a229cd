// Range functions over one range's samples; the arithmetic follows Prometheus' functions.go.
#include "range_functions.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace edgesketch::query {
namespace {

// One step of Kahan-Neumaier summation: sum + inc with the running compensation c.
void kahan_inc(double inc, double& sum, double& c) {
  const double t = sum + inc;
  if (std::fabs(sum) >= std::fabs(inc)) {
    c += (sum - t) + inc;
  } else {
    c += (inc - t) + sum;
  }
  sum = t;
}

double kahan_sum(std::span<const double> values) {
  double sum = 0, c = 0;
  for (double v : values) kahan_inc(v, sum, c);
  return std::isinf(sum) ? sum : sum + c;
}

double avg(std::span<const double> values) {
  double mean = 0, count = 0, c = 0;
  for (double v : values) {
    count += 1;
    if (std::isinf(mean)) {
      // An infinite mean stays as it is unless an opposite infinity or a NaN comes.
      if (std::isinf(v) && (mean > 0) == (v > 0)) continue;
      if (!std::isinf(v) && !std::isnan(v)) continue;
    }
    kahan_inc(v / count - mean / count, mean, c);
  }
  return std::isinf(mean) ? mean : mean + c;
}

double variance(std::span<const double> values) {
  double count = 0, mean = 0, c_mean = 0, aux = 0, c_aux = 0;
  for (double v : values) {
    count += 1;
    const double delta = v - (mean + c_mean);
    kahan_inc(delta / count, mean, c_mean);
    kahan_inc(delta * (v - (mean + c_mean)), aux, c_aux);
  }
  return (aux + c_aux) / count;
}

}  // namespace

double sample_quantile(double phi, std::span<const double> values) {
  if (values.empty() || std::isnan(phi)) return std::numeric_limits<double>::quiet_NaN();
  if (phi < 0) return -std::numeric_limits<double>::infinity();
  if (phi > 1) return std::numeric_limits<double>::infinity();
  std::vector<double> sorted(values.begin(), values.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](double a, double b) {
    if (std::isnan(a)) return !std::isnan(b);
    return a < b;
  });
  const double n = static_cast<double>(sorted.size());
  const double rank = phi * (n - 1);
  const double lower = std::max(0.0, std::floor(rank));
  const double upper = std::min(n - 1, lower + 1);
  const double weight = rank - std::floor(rank);
  return sorted[static_cast<std::size_t>(lower)] * (1 - weight) +
         sorted[static_cast<std::size_t>(upper)] * weight;
}

double apply_range_function(RangeFunction f, std::span<const double> values, double param,
                            std::int64_t range_ms) {
  switch (f) {
    case RangeFunction::kAvg:
      return avg(values);
    case RangeFunction::kCount:
      return static_cast<double>(values.size());
    case RangeFunction::kLast:
      return values.back();
    case RangeFunction::kMax: {
      double m = values.front();
      for (double v : values) {
        if (v > m || std::isnan(m)) m = v;
      }
      return m;
    }
    case RangeFunction::kMin: {
      double m = values.front();
      for (double v : values) {
        if (v < m || std::isnan(m)) m = v;
      }
      return m;
    }
    case RangeFunction::kSum:
    case RangeFunction::kIncrease:
      return kahan_sum(values);
    case RangeFunction::kRate:
      return kahan_sum(values) / (static_cast<double>(range_ms) / 1000);
    case RangeFunction::kQuantile:
      return sample_quantile(param, values);
    case RangeFunction::kStddev:
      return std::sqrt(variance(values));
    case RangeFunction::kStdvar:
      return variance(values);
    case RangeFunction::kPresent:
      return 1;
  }
  return std::numeric_limits<double>::quiet_NaN();
}

}  // namespace edgesketch::query
