// histogram_fraction over the buckets of an ExpHistogram in ascending order of value.
#include "histogram_fraction.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace edgesketch::query {

double exp_bucket_bound(std::int64_t idx, int scale) {
  constexpr double kMax = std::numeric_limits<double>::max();
  if (scale <= 0) {
    const std::int64_t exp = idx * (std::int64_t{1} << -scale);
    if (exp == 1024) return kMax;
    if (exp > 1024) return std::numeric_limits<double>::infinity();
    if (exp < -1100) return 0;
    return std::ldexp(1.0, static_cast<int>(exp));
  }
  const std::int64_t per_octave = std::int64_t{1} << scale;
  const std::int64_t frac_idx = idx & (per_octave - 1);
  const std::int64_t exp = (idx >> scale) + 1;  // floor division for negative idx
  const double frac =
      std::exp2(static_cast<double>(frac_idx) / static_cast<double>(per_octave)) * 0.5;
  if (frac == 0.5 && exp == 1025) return kMax;
  if (exp > 1025) return std::numeric_limits<double>::infinity();
  if (exp < -1100) return 0;
  return std::ldexp(frac, static_cast<int>(exp));
}

double histogram_fraction(double lower, double upper, const sketch::ExpHistogram& h) {
  const double count = static_cast<double>(h.count());
  if (h.count() == 0 || std::isnan(lower) || std::isnan(upper)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (lower >= upper) return 0;
  struct Bucket {
    double lower, upper, count;
  };
  const double zero_threshold = std::numeric_limits<double>::min();  // 2^-1022
  std::vector<Bucket> buckets;
  const int scale = h.scale();
  const auto neg = h.negative_counts();
  const auto pos = h.positive_counts();
  // Negative buckets from the most negative values: bucket i holds [-bound(i + 1), -bound(i)).
  for (std::size_t k = neg.size(); k-- > 0;) {
    if (neg[k] == 0) continue;
    const std::int64_t i = h.negative_offset() + static_cast<std::int64_t>(k);
    Bucket b{-exp_bucket_bound(i + 1, scale), -exp_bucket_bound(i, scale),
             static_cast<double>(neg[k])};
    if (b.upper > -zero_threshold) b.upper = -zero_threshold;
    buckets.push_back(b);
  }
  if (h.zero_count() > 0) {
    Bucket z{-zero_threshold, zero_threshold, static_cast<double>(h.zero_count())};
    if (neg.empty() && !pos.empty()) z.lower = 0;
    if (pos.empty() && !neg.empty()) z.upper = 0;
    buckets.push_back(z);
  }
  for (std::size_t k = 0; k < pos.size(); ++k) {
    if (pos[k] == 0) continue;
    const std::int64_t i = h.positive_offset() + static_cast<std::int64_t>(k);
    Bucket b{exp_bucket_bound(i, scale), exp_bucket_bound(i + 1, scale),
             static_cast<double>(pos[k])};
    if (b.lower < zero_threshold) b.lower = zero_threshold;
    buckets.push_back(b);
  }
  double rank = 0, lower_rank = 0, upper_rank = 0;
  bool lower_set = false, upper_set = false;
  for (const Bucket& b : buckets) {
    if (!lower_set && b.lower >= lower) {
      lower_rank = rank;
      lower_set = true;
    }
    if (!upper_set && b.lower >= upper) {
      upper_rank = rank;
      upper_set = true;
    }
    if (lower_set && upper_set) break;
    if (!lower_set && b.lower < lower && b.upper > lower) {
      lower_rank = rank + b.count * (lower - b.lower) / (b.upper - b.lower);
      lower_set = true;
    }
    if (!upper_set && b.lower < upper && b.upper > upper) {
      upper_rank = rank + b.count * (upper - b.lower) / (b.upper - b.lower);
      upper_set = true;
    }
    if (lower_set && upper_set) break;
    rank += b.count;
  }
  if (!lower_set || lower_rank > count) lower_rank = count;
  if (!upper_set || upper_rank > count) upper_rank = count;
  return (upper_rank - lower_rank) / count;
}

}  // namespace edgesketch::query
