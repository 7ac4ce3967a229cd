// histogram_fraction() on edgesketch's exponential histograms, as Prometheus computes it on a
// native histogram of the same exponential schema.
#pragma once

#include "edgesketch/sketch/exp_histogram.h"

namespace edgesketch::query {

// The estimated fraction of the observations in [lower, upper]: the buckets inside count whole,
// a bucket that a bound cuts counts in proportion to the part of its width inside (linear
// interpolation, as Prometheus 2.42), over the buckets native_buckets() gives. The zero bucket
// spans [-t, t] (kNativeZeroThreshold: it holds ±0 and the subnormals), or [0, t] / [-t, 0] when
// the histogram has values of one sign only. NaN for an empty histogram or a NaN bound; 0 when
// lower >= upper.
double histogram_fraction(double lower, double upper, const sketch::ExpHistogram& h);

}  // namespace edgesketch::query
