// histogram_fraction over the buckets of an ExpHistogram in ascending order of value.
#include "histogram_fraction.h"

#include <cmath>
#include <limits>

#include "edgesketch/query/native_histogram.h"

namespace edgesketch::query {

double histogram_fraction(double lower, double upper, const sketch::ExpHistogram& h) {
  const double count = static_cast<double>(h.count());
  if (h.count() == 0 || std::isnan(lower) || std::isnan(upper)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (lower >= upper) return 0;
  const bool no_negative = h.negative_counts().empty();
  const bool no_positive = h.positive_counts().empty();
  double rank = 0, lower_rank = 0, upper_rank = 0;
  bool lower_set = false, upper_set = false;
  for (NativeBucket b : native_buckets(h)) {
    if (b.rule == BoundaryRule::kClosed) {
      // The zero bucket of a histogram with values of one sign ends at 0.
      if (no_negative && !no_positive) b.lower = 0;
      if (no_positive && !no_negative) b.upper = 0;
    }
    const double n = static_cast<double>(b.count);
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
      lower_rank = rank + n * (lower - b.lower) / (b.upper - b.lower);
      lower_set = true;
    }
    if (!upper_set && b.lower < upper && b.upper > upper) {
      upper_rank = rank + n * (upper - b.lower) / (b.upper - b.lower);
      upper_set = true;
    }
    if (lower_set && upper_set) break;
    rank += n;
  }
  if (!lower_set || lower_rank > count) lower_rank = count;
  if (!upper_set || upper_rank > count) upper_rank = count;
  return (upper_rank - lower_rank) / count;
}

}  // namespace edgesketch::query
