// Random serialized ExpHistograms for the tests of the histogram's accumulator and of the
// store's row accumulator: values over up to 12 decades, some negative, zero or integer, at a
// random scale and bucket limit.
#pragma once

#include <cmath>
#include <random>

#include "edgesketch/common/byte_coding.h"
#include "edgesketch/sketch/exp_histogram.h"

namespace edgesketch::test_support {

inline Bytes random_histogram(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> scale(-4, 8);
  const int buckets[] = {128, 160, 2048};
  sketch::ExpHistogram h(
      sketch::ExpHistogramOptions{.scale = scale(rng), .max_buckets = buckets[rng() % 3]});
  const int n = static_cast<int>(rng() % 600);
  const double decades = static_cast<double>(rng() % 12);
  const double center = std::uniform_real_distribution<double>(-20, 20)(rng);
  const int kind = static_cast<int>(rng() % 4);  // positive, mixed, zeros too, integers
  for (int i = 0; i < n; ++i) {
    double v = std::pow(10.0, center + std::uniform_real_distribution<double>(0, decades)(rng));
    if (kind >= 1 && rng() % 3 == 0) v = -v;
    if (kind == 2 && rng() % 5 == 0) v = 0;
    if (kind == 3) v = std::round(std::uniform_real_distribution<double>(-50, 50)(rng));
    h.add(v);
  }
  return h.serialize();
}

}  // namespace edgesketch::test_support
