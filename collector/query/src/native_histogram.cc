// The buckets of an ExpHistogram in Prometheus' native-histogram layout.
#include "edgesketch/query/native_histogram.h"

#include <cmath>

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

std::vector<NativeBucket> native_buckets(const sketch::ExpHistogram& h) {
  constexpr double t = kNativeZeroThreshold;
  const int scale = h.scale();
  const auto neg = h.negative_counts();
  const auto pos = h.positive_counts();
  std::vector<NativeBucket> out;
  out.reserve(neg.size() + pos.size() + 1);
  // Negative buckets from the most negative values, i.e. the highest index first.
  for (std::size_t k = neg.size(); k-- > 0;) {
    if (neg[k] == 0) continue;
    const std::int64_t i = h.negative_offset() + static_cast<std::int64_t>(k);
    NativeBucket b{BoundaryRule::kOpenRight, -exp_bucket_bound(i + 1, scale),
                   -exp_bucket_bound(i, scale), neg[k]};
    if (b.upper > -t) b.upper = -t;
    out.push_back(b);
  }
  if (h.zero_count() > 0) out.push_back({BoundaryRule::kClosed, -t, t, h.zero_count()});
  for (std::size_t k = 0; k < pos.size(); ++k) {
    if (pos[k] == 0) continue;
    const std::int64_t i = h.positive_offset() + static_cast<std::int64_t>(k);
    NativeBucket b{BoundaryRule::kOpenLeft, exp_bucket_bound(i, scale),
                   exp_bucket_bound(i + 1, scale), pos[k]};
    if (b.lower < t) b.lower = t;
    out.push_back(b);
  }
  return out;
}

}  // namespace edgesketch::query
