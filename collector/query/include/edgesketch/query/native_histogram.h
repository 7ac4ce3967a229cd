// A sketch's histogram as a Prometheus native histogram of the same exponential schema: its
// buckets in the order, with the bounds and the boundary rules, that Prometheus'
// FloatHistogram.AllBucketIterator gives them. The HTTP API writes query results with it and
// histogram_fraction() reads it, so both see one bucket layout.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "edgesketch/sketch/exp_histogram.h"

namespace edgesketch::query {

// Prometheus' exponential schemas are -4..8, and so are the sketch's scales: a histogram's scale
// is its schema, and nothing is downscaled for output. Should the sketch ever allow finer scales,
// this fails to compile rather than write schemas no Prometheus client knows.
static_assert(sketch::ExpHistogram::kMinScale >= -4 && sketch::ExpHistogram::kMaxScale <= 8,
              "native histogram output needs scales within Prometheus' schemas -4..8");

// The native histogram's zero threshold t: the largest subnormal double. The sketch counts ±0
// and the subnormals in its zero bucket, which are exactly the values with |v| <= t, the values
// Prometheus' zero bucket [-t, t] holds.
inline constexpr double kNativeZeroThreshold =
    std::numeric_limits<double>::min() - std::numeric_limits<double>::denorm_min();

// Which bounds belong to a bucket, numbered as Prometheus' JSON writes them.
enum class BoundaryRule : std::uint8_t {
  kOpenLeft = 0,   // (lower, upper]: positive buckets
  kOpenRight = 1,  // [lower, upper): negative buckets
  kOpen = 2,       // (lower, upper): never produced for exponential schemas
  kClosed = 3,     // [lower, upper]: the zero bucket
};

struct NativeBucket {
  BoundaryRule rule = BoundaryRule::kOpenLeft;
  double lower = 0;
  double upper = 0;
  std::uint64_t count = 0;
};

// The non-empty buckets of `h`, as Prometheus iterates a native histogram: negative buckets from
// the most negative up, then the zero bucket [-t, t] when it holds values, then the positive
// buckets ascending. The sketch's positive bucket i, |v| in (bound(i), bound(i + 1)], is
// Prometheus' bucket i + 1 (its index names the upper bound); a negative bucket is the mirror
// image, [-bound(i + 1), -bound(i)). The buckets next to zero have their inner bound moved to ±t,
// as Prometheus does with buckets that overlap the zero bucket.
std::vector<NativeBucket> native_buckets(const sketch::ExpHistogram& h);

// 2^(idx / 2^scale): the lower bound of the sketch's bucket idx at `scale` (its upper bound is
// the bound of idx + 1), as Prometheus' getBound() gives it for index idx: DBL_MAX for the upper
// bound of the last finite bucket, exact powers of two at scales <= 0 and at every multiple of
// 2^scale. The other bounds (scales > 0) are the correctly rounded 2^(k / 2^scale) (glibc's
// exp2), where Prometheus reads a table whose entries are up to 4 ulps away from it: those may
// print with different last digits.
double exp_bucket_bound(std::int64_t idx, int scale);

}  // namespace edgesketch::query
