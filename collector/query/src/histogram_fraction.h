// histogram_fraction() on edgesketch's exponential histograms, as Prometheus computes it on a
// native histogram of the same exponential schema.
#pragma once

#include "edgesketch/sketch/exp_histogram.h"

namespace edgesketch::query {

// The estimated fraction of the observations in [lower, upper]: the buckets inside count whole,
// a bucket that a bound cuts counts in proportion to the part of its width inside (linear
// interpolation, as Prometheus 2.42). The zero bucket spans (-z, z) with z = 2^-1022 (the
// histogram's zero bucket holds ±0 and the subnormals), or [0, z) / (-z, 0] when the histogram
// has values of one sign only. NaN for an empty histogram or a NaN bound; 0 when lower >= upper.
double histogram_fraction(double lower, double upper, const sketch::ExpHistogram& h);

// The upper bound 2^(idx / 2^scale) of the bucket below index idx + 1 at `scale` (bucket i
// covers (bound(i), bound(i + 1)]); DBL_MAX for the last finite bucket, as Prometheus' getBound.
double exp_bucket_bound(std::int64_t idx, int scale);

}  // namespace edgesketch::query
