// Tests of ExpHistogram: exact bucket indexing, accuracy against sorted data, merge properties
// (order independence, also across downscaling) and the hostile-input decoder.
#include "edgesketch/sketch/exp_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <ostream>
#include <random>
#include <string>
#include <vector>

namespace edgesketch::sketch {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---------------------------------------------------------------------------------------------
// Exact arithmetic for the bucket boundaries: is M^(2^s) >= 2^K? (M a 53-bit significand)

class BigUint {
 public:
  explicit BigUint(std::uint64_t v)
      : words_{static_cast<std::uint32_t>(v), static_cast<std::uint32_t>(v >> 32)} {}
  BigUint squared() const {
    std::vector<std::uint64_t> acc(words_.size() * 2 + 1, 0);
    for (std::size_t i = 0; i < words_.size(); ++i) {
      std::uint64_t carry = 0;
      for (std::size_t j = 0; j < words_.size(); ++j) {
        const std::uint64_t cur = acc[i + j] + std::uint64_t{words_[i]} * words_[j] + carry;
        acc[i + j] = cur & 0xffffffffu;
        carry = cur >> 32;
      }
      acc[i + words_.size()] += carry;
    }
    BigUint out(0);
    out.words_.assign(acc.size(), 0);
    for (std::size_t i = 0; i < acc.size(); ++i) out.words_[i] = static_cast<std::uint32_t>(acc[i]);
    while (out.words_.size() > 1 && out.words_.back() == 0) out.words_.pop_back();
    return out;
  }
  int bit_length() const {
    for (std::size_t i = words_.size(); i-- > 0;) {
      if (words_[i] != 0) return static_cast<int>(i * 32) + 32 - std::countl_zero(words_[i]);
    }
    return 0;
  }

 private:
  std::vector<std::uint32_t> words_;
};

bool power_reaches(std::uint64_t significand, int scale, int exponent_bits) {
  BigUint x(significand);
  for (int i = 0; i < scale; ++i) x = x.squared();
  return x.bit_length() > exponent_bits;  // x >= 2^K <=> x has more than K bits
}

// Smallest 53-bit significand M with M/2^52 >= 2^(k/2^scale), 0 < k < 2^scale, exactly.
std::uint64_t boundary_significand(int scale, int k) {
  const int target = k + 52 * (1 << scale);
  auto m =
      static_cast<std::uint64_t>(std::ldexp(std::exp2(static_cast<double>(k) / (1 << scale)), 52));
  while (!power_reaches(m, scale, target)) ++m;
  while (power_reaches(m - 1, scale, target)) --m;
  return m;
}

// Bucket index of v at `scale`, observed through the public API.
std::int32_t index_of(double v, int scale) {
  ExpHistogram h({.scale = scale, .max_buckets = 2048});
  h.add(v);
  EXPECT_EQ(h.count(), 1u);
  const auto counts = v > 0 ? h.positive_counts() : h.negative_counts();
  EXPECT_EQ(counts.size(), 1u);
  return v > 0 ? h.positive_offset() : h.negative_offset();
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

// Same buckets, count, zero count, min and max; sum equal up to rounding.
void expect_same_but_sum(const ExpHistogram& a, const ExpHistogram& b) {
  EXPECT_EQ(a.scale(), b.scale());
  EXPECT_EQ(a.count(), b.count());
  EXPECT_EQ(a.zero_count(), b.zero_count());
  EXPECT_EQ(std::bit_cast<std::uint64_t>(a.min()), std::bit_cast<std::uint64_t>(b.min()));
  EXPECT_EQ(std::bit_cast<std::uint64_t>(a.max()), std::bit_cast<std::uint64_t>(b.max()));
  EXPECT_EQ(a.positive_offset(), b.positive_offset());
  EXPECT_EQ(a.negative_offset(), b.negative_offset());
  EXPECT_TRUE(std::ranges::equal(a.positive_counts(), b.positive_counts()));
  EXPECT_TRUE(std::ranges::equal(a.negative_counts(), b.negative_counts()));
  EXPECT_NEAR(a.sum(), b.sum(), 1e-9 * (std::fabs(a.sum()) + 1));
}

TEST(ExpHistogramIndexTest, BoundariesAreExactAtEveryPositiveScale) {
  for (int scale = 0; scale <= 8; ++scale) {
    const int per_octave = 1 << scale;
    for (int k = 1; k < per_octave; ++k) {
      const std::uint64_t m = boundary_significand(scale, k);
      for (int e : {-1022, -500, -1, 0, 1, 37, 1023}) {
        // m * 2^(e-52) is the first double above γ^(e·2^s + k): it opens bucket e·2^s + k.
        const double above = std::ldexp(static_cast<double>(m), e - 52);
        const double below = std::nextafter(above, 0.0);
        const std::int32_t i = e * per_octave + k;
        ASSERT_EQ(index_of(above, scale), i) << "scale " << scale << " k " << k << " e " << e;
        ASSERT_EQ(index_of(below, scale), i - 1) << "scale " << scale << " k " << k << " e " << e;
        ASSERT_EQ(index_of(-above, scale), i);
        ASSERT_EQ(index_of(-below, scale), i - 1);
      }
    }
  }
}

TEST(ExpHistogramIndexTest, PowersOfTwoCloseTheBucketBelow) {
  for (int scale = ExpHistogram::kMinScale; scale <= ExpHistogram::kMaxScale; ++scale) {
    for (int e = -1021; e <= 1023; e += 7) {
      const double p = std::ldexp(1.0, e);
      // Scale-0 index of 2^e is e-1, of the next double e; coarser scales floor-divide.
      const std::int64_t at0 = e - 1;
      const std::int64_t expect = scale >= 0 ? static_cast<std::int64_t>(e) * (1 << scale) - 1
                                             : floor_div(at0, 1 << -scale);
      const std::int64_t expect_next =
          scale >= 0 ? static_cast<std::int64_t>(e) * (1 << scale) : floor_div(e, 1 << -scale);
      ASSERT_EQ(index_of(p, scale), expect) << "scale " << scale << " e " << e;
      ASSERT_EQ(index_of(std::nextafter(p, kInf), scale), expect_next);
      ASSERT_EQ(index_of(-p, scale), expect);
    }
  }
}

TEST(ExpHistogramIndexTest, MatchesLog2AwayFromBoundaries) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> mant(1.0, 2.0);
  std::uniform_int_distribution<int> exp(-1000, 1000);
  for (int scale = ExpHistogram::kMinScale; scale <= ExpHistogram::kMaxScale; ++scale) {
    for (int i = 0; i < 3000; ++i) {
      const double v = std::ldexp(mant(rng), exp(rng));
      const long double x = std::log2(static_cast<long double>(v)) * std::ldexp(1.0L, scale);
      if (std::fabs(x - std::nearbyint(x)) < 1e-9L) continue;
      const auto expect = static_cast<std::int32_t>(std::ceil(x)) - 1;
      ASSERT_EQ(index_of(v, scale), expect) << v << " at scale " << scale;
    }
  }
}

TEST(ExpHistogramIndexTest, ExtremesZeroSubnormalsAndNonFinite) {
  const double dmin = std::numeric_limits<double>::min();
  const double dmax = std::numeric_limits<double>::max();
  EXPECT_EQ(index_of(dmin, 8), -1022 * 256 - 1);
  EXPECT_EQ(index_of(dmax, 8), 1023 * 256 + 255);
  EXPECT_EQ(index_of(dmin, -4), -64);
  EXPECT_EQ(index_of(dmax, -4), 63);
  EXPECT_EQ(index_of(-dmax, 6), 1023 * 64 + 63);

  ExpHistogram h;
  for (double v : {0.0, -0.0, std::numeric_limits<double>::denorm_min(), std::nextafter(dmin, 0.0),
                   -std::numeric_limits<double>::denorm_min()}) {
    h.add(v);
  }
  EXPECT_EQ(h.count(), 5u);
  EXPECT_EQ(h.zero_count(), 5u);
  EXPECT_TRUE(h.positive_counts().empty());
  EXPECT_TRUE(h.negative_counts().empty());
  EXPECT_EQ(h.quantile(0.5), 0.0);

  ExpHistogram ignored;
  for (double v : {kNaN, kInf, -kInf, -kNaN}) ignored.add(v);
  ignored.add(kNaN, 10);
  EXPECT_EQ(ignored, ExpHistogram());
  EXPECT_EQ(ignored.count(), 0u);
  EXPECT_TRUE(std::isnan(ignored.quantile(0.5)));
  EXPECT_TRUE(std::isnan(ignored.min()));
  EXPECT_TRUE(std::isnan(ignored.max()));
  EXPECT_EQ(ignored.sum(), 0.0);

  ExpHistogram negzero;
  negzero.add(-0.0);
  EXPECT_FALSE(std::signbit(negzero.min()));  // -0 is stored as +0: order-independent min/max
}

TEST(ExpHistogramTest, OptionsAreClampedAndBoundIsDocumented) {
  EXPECT_EQ(ExpHistogram({.scale = 20, .max_buckets = 1}).scale(), 8);
  EXPECT_EQ(ExpHistogram({.scale = -9, .max_buckets = 1}).scale(), -4);
  EXPECT_EQ(ExpHistogram({.scale = 0, .max_buckets = 1}).max_buckets(), 128);
  EXPECT_EQ(ExpHistogram({.scale = 0, .max_buckets = 1 << 30}).max_buckets(), 1 << 16);
  EXPECT_NEAR(ExpHistogram().relative_error_bound(), 0.0054, 0.00005);
  EXPECT_EQ(ExpHistogram().scale(), 6);
}

TEST(ExpHistogramTest, CountSumMinMaxAreExact) {
  ExpHistogram h;
  h.add(3.5);
  h.add(-2.0);
  h.add(1e-300, 3);
  h.add(7.0, 0);
  EXPECT_EQ(h.count(), 5u);
  EXPECT_EQ(h.sum(), 3.5 - 2.0 + 3e-300);
  EXPECT_EQ(h.min(), -2.0);
  EXPECT_EQ(h.max(), 3.5);
  EXPECT_EQ(h.quantile(0.0), -2.0);
  EXPECT_EQ(h.quantile(1.0), 3.5);
  EXPECT_EQ(h.quantile(-3.0), -2.0);
  EXPECT_EQ(h.quantile(7.0), 3.5);
  EXPECT_TRUE(std::isnan(h.quantile(kNaN)));
}

TEST(ExpHistogramTest, AddWithCountEqualsRepeatedAdds) {
  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> ln(0, 3);
  ExpHistogram once({.scale = 6, .max_buckets = 256});
  ExpHistogram repeated({.scale = 6, .max_buckets = 256});
  for (int i = 0; i < 300; ++i) {
    const double v = (i % 3 == 0 ? -1 : 1) * ln(rng);
    const std::uint64_t n = 1 + rng() % 5;
    once.add(v, n);
    for (std::uint64_t k = 0; k < n; ++k) repeated.add(v);
  }
  once.add(0.0, 4);
  for (int k = 0; k < 4; ++k) repeated.add(0.0);
  EXPECT_LT(once.scale(), 6);  // downscaled on the way, both the same
  expect_same_but_sum(once, repeated);
}

TEST(ExpHistogramTest, SmallDataUsesLowerNearestRank) {
  ExpHistogram h;
  for (double v : {40.0, 10.0, 30.0, 20.0}) h.add(v);
  const double b = h.relative_error_bound() * (1 + 1e-9);
  // rank floor(φ·3): φ=0.5 -> 1 -> 20; φ=0.7 -> 2 -> 30; φ=0.99 -> 2 -> 30.
  EXPECT_NEAR(h.quantile(0.5), 20.0, 20.0 * b);
  EXPECT_NEAR(h.quantile(0.7), 30.0, 30.0 * b);
  EXPECT_NEAR(h.quantile(0.99), 30.0, 30.0 * b);
}

// ---------------------------------------------------------------------------------------------
// Accuracy

struct Distribution {
  const char* name;
  std::function<double(std::mt19937_64&)> draw;
  bool downscales;
};

// Names the parameter in test output instead of dumping its bytes.
void PrintTo(const Distribution& d, std::ostream* os) { *os << d.name; }

std::vector<Distribution> distributions() {
  return {
      {"normal", [](std::mt19937_64& r) { return std::normal_distribution<double>(0, 1)(r); },
       false},
      {"normal_shifted",
       [](std::mt19937_64& r) { return std::normal_distribution<double>(100, 15)(r); }, false},
      {"lognormal_s1",
       [](std::mt19937_64& r) { return std::lognormal_distribution<double>(0, 1)(r); }, false},
      {"lognormal_s2",
       [](std::mt19937_64& r) { return std::lognormal_distribution<double>(3, 2)(r); }, false},
      {"pareto_1_5",
       [](std::mt19937_64& r) {
         return std::pow(1.0 - std::uniform_real_distribution<double>(0, 1)(r), -1 / 1.5);
       },
       false},
      {"bimodal",
       [](std::mt19937_64& r) {
         return std::bernoulli_distribution(0.3)(r) ? std::normal_distribution<double>(10, 1)(r)
                                                    : std::normal_distribution<double>(100, 5)(r);
       },
       false},
      {"mixed_sign_zeros",
       [](std::mt19937_64& r) {
         const double u = std::uniform_real_distribution<double>(0, 1)(r);
         if (u < 0.2) return 0.0;
         const double m = std::lognormal_distribution<double>(0, 1.5)(r);
         return u < 0.6 ? -m : m;
       },
       false},
      {"loguniform_1e-9_1e12",
       [](std::mt19937_64& r) {
         return std::pow(10.0, std::uniform_real_distribution<double>(-9, 12)(r));
       },
       true},
  };
}

class ExpHistogramAccuracyTest : public ::testing::TestWithParam<Distribution> {};

void expect_accurate(const ExpHistogram& h, const std::vector<double>& sorted, const char* what) {
  const double bound = h.relative_error_bound() * (1 + 1e-9);
  for (double phi : {0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0}) {
    const auto rank =
        static_cast<std::size_t>(std::floor(phi * static_cast<double>(sorted.size() - 1)));
    const double exact = sorted[rank];
    const double est = h.quantile(phi);
    EXPECT_LE(std::fabs(est - exact), bound * std::fabs(exact))
        << what << " φ=" << phi << " exact " << exact << " estimate " << est << " scale "
        << h.scale();
  }
}

// The scale is the largest one at which the data fits: one step finer would not.
void expect_maximal_scale(const ExpHistogram& h, const std::vector<double>& values, int initial) {
  if (h.scale() == initial) return;
  ExpHistogram finer({.scale = h.scale() + 1, .max_buckets = 1 << 16});
  for (double v : values) finer.add(v);
  ASSERT_EQ(finer.scale(), h.scale() + 1);
  EXPECT_GT(std::max(finer.positive_counts().size(), finer.negative_counts().size()),
            static_cast<std::size_t>(h.max_buckets()));
}

TEST_P(ExpHistogramAccuracyTest, SingleStreamAndThousandWayMerge) {
  const Distribution& d = GetParam();
  constexpr int kSketches = 1000;
  constexpr int kPerSketch = 1000;
  std::mt19937_64 rng(20240611);
  std::vector<double> values(kSketches * kPerSketch);
  for (double& v : values) v = d.draw(rng);

  ExpHistogram single;
  for (double v : values) single.add(v);
  std::vector<double> sorted = values;
  std::sort(sorted.begin(), sorted.end());
  expect_accurate(single, sorted, "single stream");
  EXPECT_EQ(single.scale() < 6, d.downscales) << "final scale " << single.scale();
  expect_maximal_scale(single, values, 6);
  EXPECT_EQ(single.min(), sorted.front());
  EXPECT_EQ(single.max(), sorted.back());

  ExpHistogram merged;
  ExpHistogram merged_wire;
  for (int s = 0; s < kSketches; ++s) {
    ExpHistogram part;
    for (int i = 0; i < kPerSketch; ++i)
      part.add(values[static_cast<std::size_t>(s * kPerSketch + i)]);
    ASSERT_TRUE(merged.merge(part).ok());
    ASSERT_TRUE(merged_wire.merge_serialized(part.serialize()).ok());
  }
  expect_accurate(merged, sorted, "merged");
  expect_same_but_sum(merged, single);
  expect_same_but_sum(merged_wire, single);
  EXPECT_EQ(merged, merged_wire);  // same order of merges: even the sum is bit-equal
}

INSTANTIATE_TEST_SUITE_P(Distributions, ExpHistogramAccuracyTest,
                         ::testing::ValuesIn(distributions()), [](const auto& info) {
                           std::string n = info.param.name;
                           std::replace(n.begin(), n.end(), '-', 'm');
                           std::replace(n.begin(), n.end(), '.', '_');
                           return n;
                         });

// ---------------------------------------------------------------------------------------------
// Merge properties

std::vector<double> wide_values(std::mt19937_64& rng, int n, double lo_exp, double hi_exp) {
  std::uniform_real_distribution<double> e(lo_exp, hi_exp);
  std::bernoulli_distribution neg(0.3);
  std::bernoulli_distribution zero(0.05);
  std::vector<double> v(static_cast<std::size_t>(n));
  for (double& x : v) x = zero(rng) ? 0.0 : (neg(rng) ? -1 : 1) * std::pow(10.0, e(rng));
  return v;
}

ExpHistogram sketch_of(const std::vector<double>& values, ExpHistogramOptions o = {}) {
  ExpHistogram h(o);
  for (double v : values) h.add(v);
  return h;
}

TEST(ExpHistogramMergeTest, InsertionOrderDoesNotMatterEvenWhenDownscaling) {
  std::mt19937_64 rng(11);
  std::vector<double> v = wide_values(rng, 20000, -12, 15);
  const ExpHistogramOptions o{.scale = 8, .max_buckets = 200};
  const ExpHistogram a = sketch_of(v, o);
  EXPECT_LT(a.scale(), 8);
  expect_maximal_scale(a, v, 8);
  for (int round = 0; round < 5; ++round) {
    std::shuffle(v.begin(), v.end(), rng);
    expect_same_but_sum(sketch_of(v, o), a);
  }
  std::sort(v.begin(), v.end());  // sorted input downscales step by step
  expect_same_but_sum(sketch_of(v, o), a);
  std::reverse(v.begin(), v.end());
  expect_same_but_sum(sketch_of(v, o), a);
}

// Parts with very different ranges: some stay at the initial scale, some downscale a lot.
std::vector<std::vector<double>> uneven_parts(std::mt19937_64& rng) {
  std::vector<std::vector<double>> parts;
  parts.push_back(wide_values(rng, 3000, 0, 0.5));   // narrow: stays fine
  parts.push_back(wide_values(rng, 3000, -3, 3));    // medium
  parts.push_back(wide_values(rng, 3000, -20, 25));  // wide: coarse
  parts.push_back(wide_values(rng, 10, 2, 2.01));    // tiny
  parts.push_back({});                               // empty
  parts.push_back({0.0, 0.0, -0.0});                 // zeros only
  parts.push_back(wide_values(rng, 3000, 5, 7));
  return parts;
}

TEST(ExpHistogramMergeTest, AnyOrderAndGroupingGivesTheSingleSketch) {
  std::mt19937_64 rng(12);
  const ExpHistogramOptions o{.scale = 7, .max_buckets = 256};
  const auto parts = uneven_parts(rng);
  std::vector<double> all;
  std::vector<ExpHistogram> sketches;
  std::vector<int> scales;
  for (const auto& p : parts) {
    all.insert(all.end(), p.begin(), p.end());
    sketches.push_back(sketch_of(p, o));
    scales.push_back(sketches.back().scale());
  }
  ASSERT_GT(*std::max_element(scales.begin(), scales.end()) -
                *std::min_element(scales.begin(), scales.end()),
            2);
  const ExpHistogram expected = sketch_of(all, o);

  std::vector<std::size_t> order(sketches.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  for (int round = 0; round < 20; ++round) {
    std::shuffle(order.begin(), order.end(), rng);
    // Left fold.
    ExpHistogram fold(o);
    for (std::size_t i : order) ASSERT_TRUE(fold.merge(sketches[i]).ok());
    expect_same_but_sum(fold, expected);
    // Pairwise tree.
    std::vector<ExpHistogram> level;
    for (std::size_t i : order) level.push_back(sketches[i]);
    while (level.size() > 1) {
      std::vector<ExpHistogram> next;
      for (std::size_t i = 0; i + 1 < level.size(); i += 2) {
        ASSERT_TRUE(level[i].merge(level[i + 1]).ok());
        next.push_back(level[i]);
      }
      if (level.size() % 2) next.push_back(level.back());
      level = std::move(next);
    }
    expect_same_but_sum(level[0], expected);
    // Through the wire.
    ExpHistogram wire(o);
    for (std::size_t i : order) ASSERT_TRUE(wire.merge_serialized(sketches[i].serialize()).ok());
    expect_same_but_sum(wire, expected);
  }
}

TEST(ExpHistogramMergeTest, CommutativeAndAssociative) {
  std::mt19937_64 rng(13);
  const ExpHistogramOptions o{.scale = 6, .max_buckets = 300};
  const auto parts = uneven_parts(rng);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    for (std::size_t j = 0; j < parts.size(); ++j) {
      ExpHistogram ab = sketch_of(parts[i], o);
      ExpHistogram ba = sketch_of(parts[j], o);
      ASSERT_TRUE(ab.merge(sketch_of(parts[j], o)).ok());
      ASSERT_TRUE(ba.merge(sketch_of(parts[i], o)).ok());
      expect_same_but_sum(ab, ba);
      const std::size_t k = (i + j + 1) % parts.size();
      ExpHistogram left = ab;  // (a + b) + c
      ASSERT_TRUE(left.merge(sketch_of(parts[k], o)).ok());
      ExpHistogram bc = sketch_of(parts[j], o);  // a + (b + c)
      ASSERT_TRUE(bc.merge(sketch_of(parts[k], o)).ok());
      ExpHistogram right = sketch_of(parts[i], o);
      ASSERT_TRUE(right.merge(bc).ok());
      expect_same_but_sum(left, right);
    }
  }
}

TEST(ExpHistogramMergeTest, DifferentInitialScales) {
  std::mt19937_64 rng(14);
  const auto a_values = wide_values(rng, 5000, -1, 2);
  const auto b_values = wide_values(rng, 5000, 0, 3);
  std::vector<double> all = a_values;
  all.insert(all.end(), b_values.begin(), b_values.end());
  const ExpHistogram fine = sketch_of(a_values, {.scale = 8, .max_buckets = 4096});
  const ExpHistogram coarse = sketch_of(b_values, {.scale = 3, .max_buckets = 4096});
  ExpHistogram ab = fine;
  ASSERT_TRUE(ab.merge(coarse).ok());
  ExpHistogram ba = coarse;
  ASSERT_TRUE(ba.merge(fine).ok());
  const ExpHistogram expected = sketch_of(all, {.scale = 3, .max_buckets = 4096});
  EXPECT_EQ(ab.scale(), 3);
  expect_same_but_sum(ab, expected);
  expect_same_but_sum(ba, expected);
  ExpHistogram wire = fine;
  ASSERT_TRUE(wire.merge_serialized(coarse.serialize()).ok());
  expect_same_but_sum(wire, expected);
  ExpHistogram wire2 = coarse;
  ASSERT_TRUE(wire2.merge_serialized(fine.serialize()).ok());  // shifts while decoding
  expect_same_but_sum(wire2, expected);
}

TEST(ExpHistogramMergeTest, SelfMergeAndEmpty) {
  std::mt19937_64 rng(15);
  const auto v = wide_values(rng, 1000, -2, 2);
  ExpHistogram h = sketch_of(v);
  const ExpHistogram before = h;
  ASSERT_TRUE(h.merge(ExpHistogram()).ok());
  EXPECT_EQ(h, before);
  ASSERT_TRUE(h.merge_serialized(ExpHistogram().serialize()).ok());
  EXPECT_EQ(h, before);
  ASSERT_TRUE(h.merge(h).ok());
  std::vector<double> twice = v;
  twice.insert(twice.end(), v.begin(), v.end());
  expect_same_but_sum(h, sketch_of(twice));
  ExpHistogram empty({.scale = 8, .max_buckets = 2048});
  ASSERT_TRUE(empty.merge(ExpHistogram({.scale = 2, .max_buckets = 2048})).ok());
  EXPECT_EQ(empty.scale(), 8);  // merging nothing changes nothing
}

TEST(ExpHistogramMergeTest, CountOverflowIsRefusedAndLeavesSketchUnchanged) {
  ExpHistogram a;
  a.add(1.0, std::uint64_t{1} << 63);
  ExpHistogram b;
  b.add(2.0, std::uint64_t{1} << 63);
  const ExpHistogram before = a;
  Status s = a.merge(b);
  EXPECT_EQ(s.code(), StatusCode::kOutOfRange);
  EXPECT_EQ(a, before);
  s = a.merge_serialized(b.serialize());
  EXPECT_EQ(s.code(), StatusCode::kOutOfRange);
  EXPECT_EQ(a, before);
}

TEST(ExpHistogramTest, MemoryIsBoundedByMaxBuckets) {
  ExpHistogram h({.scale = 8, .max_buckets = 2048});
  std::mt19937_64 rng(16);
  for (double v : wide_values(rng, 200000, -300, 300)) h.add(v);
  EXPECT_LE(h.positive_counts().size(), 2048u);
  EXPECT_LE(h.negative_counts().size(), 2048u);
  EXPECT_LE(h.memory_bytes(), sizeof(ExpHistogram) + 2 * 8 * (2 * 2048 + 64));
}

// Counters start one byte wide and widen when a count would pass 255: every way of reaching a
// count gives the same sketch and the same bytes as a reference built with add(v, n).
TEST(ExpHistogramTest, CountsPastOneByteAreExactWhicheverWayTheyArrive) {
  for (const std::uint64_t n : {255u, 256u, 257u, 1000u, 70000u}) {
    SCOPED_TRACE(n);
    ExpHistogram reference;
    reference.add(3.0, n);
    reference.add(-0.5, 2);
    reference.add(100.0);

    ExpHistogram by_one;
    for (std::uint64_t i = 0; i < n; ++i) by_one.add(3.0);
    by_one.add(-0.5);
    by_one.add(100.0);
    by_one.add(-0.5);
    EXPECT_EQ(by_one, reference);
    EXPECT_EQ(by_one.positive_counts()[0], n);

    // Halves merged, directly and through the wire format, into a sketch holding the rest.
    ExpHistogram half;
    half.add(3.0, n / 2);
    ExpHistogram rest;
    rest.add(3.0, n - n / 2);
    rest.add(-0.5, 2);
    rest.add(100.0);
    ExpHistogram merged = rest;
    ASSERT_TRUE(merged.merge(half).ok());
    EXPECT_EQ(merged, reference);
    ExpHistogram merged_bytes = rest;
    ASSERT_TRUE(merged_bytes.merge_serialized(half.serialize()).ok());
    EXPECT_EQ(merged_bytes, reference);

    // Many small adds into neighbouring buckets, then a downscale that adds them up.
    ExpHistogram fine({.scale = 8, .max_buckets = 128});
    for (std::uint64_t i = 0; i < n; ++i) fine.add(i % 2 ? 3.0 : 3.001);
    fine.add(1e30);  // forces downscaling to fit 128 buckets
    std::uint64_t total = 0;
    for (std::uint64_t c : fine.positive_counts()) total += c;
    EXPECT_EQ(total, n + 1);

    for (const ExpHistogram* h : {&by_one, &merged, &merged_bytes}) {
      EXPECT_EQ(h->serialize(), reference.serialize());
      auto back = ExpHistogram::deserialize(h->serialize());
      ASSERT_TRUE(back.ok());
      EXPECT_EQ(*back, reference);
    }
  }
}

TEST(ExpHistogramTest, SmallCountsTakeOneBytePerBucket) {
  // A window of a few hundred values (the agent's case): one byte per bucket plus slack.
  ExpHistogram h;
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(0, 0.6);
  for (int i = 0; i < 1000; ++i) h.add(dist(rng));
  EXPECT_LT(h.memory_bytes(), sizeof(ExpHistogram) + 2 * h.positive_counts().size() + 64);
  // Decoded sketches whose count is below 256 are narrow too (the count bounds every bucket).
  ExpHistogram small;
  for (int i = 0; i < 200; ++i) small.add(dist(rng));
  auto back = ExpHistogram::deserialize(small.serialize());
  ASSERT_TRUE(back.ok());
  EXPECT_LE(back->memory_bytes(), sizeof(ExpHistogram) + small.positive_counts().size() + 8);
  EXPECT_EQ(*back, small);
}

// ---------------------------------------------------------------------------------------------
// Serialization

TEST(ExpHistogramCodecTest, GoldenBytes) {
  ExpHistogram h({.scale = 0, .max_buckets = 128});
  for (double v : {1.0, 3.0, 3.5, -2.0, 0.0}) h.add(v);
  // positive buckets (γ = 2): 1 -> -1, 3 and 3.5 -> 1; negative: 2 -> 0.
  const Bytes expected = {
      0x01, 0x00, 0x03, 0x80, 0x01, 0x05,              // version, scale, flags, max_buckets, count
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x16, 0x40,  // sum 5.5
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0,  // min -2
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x40,  // max 3.5
      0x01,                                            // zero_count
      0x01, 0x03, 0x02, 0x21, 0x00,                    // positive: offset -1, 3 buckets, w=2: 1,0,2
      0x00, 0x01, 0x01, 0x01,                          // negative: offset 0, 1 bucket, w=1: 1
  };
  EXPECT_EQ(h.serialize(), expected);
  auto back = ExpHistogram::deserialize(expected);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(*back, h);
  EXPECT_EQ(ExpHistogram().serialize(), (Bytes{0x01, 0x06, 0x00, 0x80, 0x10, 0x00, 0x00}));
}

std::vector<ExpHistogram> codec_samples() {
  std::vector<ExpHistogram> out;
  out.emplace_back();
  ExpHistogram zeros;
  zeros.add(0.0, 5);
  out.push_back(zeros);
  ExpHistogram neg({.scale = -2, .max_buckets = 128});
  neg.add(-3.0);
  neg.add(-1e200, 7);
  out.push_back(neg);
  ExpHistogram big;  // every width up to 64 bits
  for (int w = 0; w < 64; ++w)
    big.add(std::ldexp(1.0, w / 4) * (1 + w % 4 * 0.2), std::uint64_t{1} << w);
  out.push_back(big);
  std::mt19937_64 rng(17);
  out.push_back(sketch_of(wide_values(rng, 10000, -6, 6), {.scale = 8, .max_buckets = 1000}));
  std::lognormal_distribution<double> ln(0, 1);
  ExpHistogram lognormal;
  for (int i = 0; i < 10000; ++i) lognormal.add(ln(rng));
  out.push_back(lognormal);
  ExpHistogram sparse;  // long runs of empty blocks
  sparse.add(1.0);
  sparse.add(1e9);
  out.push_back(sparse);
  return out;
}

TEST(ExpHistogramCodecTest, RoundTripAndMergeSerializedAgree) {
  const auto samples = codec_samples();
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const Bytes b = samples[i].serialize();
    auto back = ExpHistogram::deserialize(b);
    ASSERT_TRUE(back.ok()) << i << ": " << back.status().to_string();
    EXPECT_EQ(*back, samples[i]) << i;
    EXPECT_EQ(back->max_buckets(), samples[i].max_buckets());
    EXPECT_EQ(back->serialize(), b);
    Bytes appended = {0xaa};
    samples[i].serialize(appended);
    EXPECT_EQ(Bytes(appended.begin() + 1, appended.end()), b);
    for (std::size_t j = 0; j < samples.size(); ++j) {
      ExpHistogram via_wire = samples[j];
      ExpHistogram via_object = samples[j];
      const Status s1 = via_wire.merge_serialized(b);
      const Status s2 = via_object.merge(*back);
      ASSERT_EQ(s1.ok(), s2.ok()) << i << " into " << j << ": " << s1.to_string();
      EXPECT_EQ(via_wire, via_object) << i << " into " << j;
    }
  }
}

TEST(ExpHistogramCodecTest, FromPartsBuildsWhatDeserializeBuilds) {
  const auto samples = codec_samples();
  for (std::size_t i = 0; i < samples.size(); ++i) {
    auto built = ExpHistogram::from_parts(samples[i].parts());
    ASSERT_TRUE(built.ok()) << i << ": " << built.status().to_string();
    auto decoded = ExpHistogram::deserialize(samples[i].serialize());
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*built, *decoded) << i;
    EXPECT_EQ(built->serialize(), samples[i].serialize()) << i;
    EXPECT_EQ(built->memory_bytes(), decoded->memory_bytes()) << i;  // same counter width
  }
  // Parts that no serialization could hold are refused.
  ExpHistogram h({.scale = 6, .max_buckets = 160});
  for (double v : {1.0, 2.0, 3.0, -4.0, 0.0}) h.add(v);
  auto refused = [](const ExpHistParts& p) {
    auto r = ExpHistogram::from_parts(p);
    return !r.ok() && r.status().code() == StatusCode::kInvalidArgument;
  };
  ExpHistParts p = h.parts();
  ASSERT_TRUE(ExpHistogram::from_parts(p).ok());
  p.buckets.count += 1;
  EXPECT_TRUE(refused(p));  // counts do not add up
  p = h.parts();
  p.buckets.scale = 9;
  EXPECT_TRUE(refused(p));
  p = h.parts();
  p.max_buckets = 100;
  EXPECT_TRUE(refused(p));
  p = h.parts();
  p.buckets.min = p.buckets.max + 1;
  EXPECT_TRUE(refused(p));
  p = h.parts();
  p.buckets.positive_offset = std::numeric_limits<std::int32_t>::max() - 1;
  EXPECT_TRUE(refused(p));
  const std::uint64_t zeros_at_ends[3] = {0, 1, 0};
  p = h.parts();
  p.buckets.positive =
      ExpHistCounts(reinterpret_cast<const unsigned char*>(zeros_at_ends), 3, true);
  EXPECT_TRUE(refused(p));
}

Bytes valid_sample() {
  std::mt19937_64 rng(18);
  ExpHistogram h({.scale = 6, .max_buckets = 512});
  for (double v : wide_values(rng, 3000, -2, 2)) h.add(v);
  h.add(1e5, std::uint64_t{1} << 40);  // a wide block too
  return h.serialize();
}

// Decoding must fail cleanly or give a sketch that round-trips; merge_serialized must agree with
// deserialize and leave the accumulator unchanged on failure.
void check_hostile(const Bytes& b, const ExpHistogram& accumulator) {
  auto h = ExpHistogram::deserialize(b);
  ExpHistogram acc = accumulator;
  const Status s = acc.merge_serialized(b);
  ASSERT_EQ(h.ok(), s.ok()) << s.to_string();
  if (!h.ok()) {
    EXPECT_EQ(h.status().code(), StatusCode::kCorruption);
    EXPECT_EQ(acc, accumulator);
    return;
  }
  auto again = ExpHistogram::deserialize(h->serialize());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *h);
  for (double phi : {0.0, 0.3, 0.5, 0.99, 1.0}) (void)h->quantile(phi);
  ExpHistogram expected = accumulator;
  ASSERT_TRUE(expected.merge(*h).ok());
  EXPECT_EQ(acc, expected);
}

ExpHistogram busy_accumulator() {
  std::mt19937_64 rng(19);
  return sketch_of(wide_values(rng, 2000, -3, 3));
}

TEST(ExpHistogramCodecTest, EveryTruncationFails) {
  const ExpHistogram acc = busy_accumulator();
  for (const auto& sample : codec_samples()) {
    const Bytes b = sample.serialize();
    for (std::size_t len = 0; len < b.size(); ++len) {
      const Bytes prefix(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(len));
      EXPECT_FALSE(ExpHistogram::deserialize(prefix).ok()) << len;
      ExpHistogram a = acc;
      EXPECT_FALSE(a.merge_serialized(prefix).ok()) << len;
      EXPECT_EQ(a, acc);
    }
    Bytes longer = b;
    longer.push_back(0);
    EXPECT_FALSE(ExpHistogram::deserialize(longer).ok());
  }
}

TEST(ExpHistogramCodecTest, EveryBitFlipFailsOrDecodesConsistently) {
  const Bytes b = valid_sample();
  const ExpHistogram acc = busy_accumulator();
  const ExpHistogram empty;
  ExpHistogram coarse({.scale = 2, .max_buckets = 2048});  // decodes with a shift
  coarse.add(-5.0);
  coarse.add(1e6);
  for (std::size_t bit = 0; bit < b.size() * 8; ++bit) {
    Bytes flipped = b;
    flipped[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    check_hostile(flipped, acc);
    check_hostile(flipped, empty);
    check_hostile(flipped, coarse);
  }
}

TEST(ExpHistogramCodecTest, RandomBytesNeverCrash) {
  std::mt19937_64 rng(20);
  const ExpHistogram acc = busy_accumulator();
  const Bytes valid = valid_sample();
  for (int i = 0; i < 20000; ++i) {
    Bytes b;
    if (i % 2 == 0) {
      b.resize(rng() % 200);
      for (auto& x : b) x = static_cast<std::uint8_t>(rng());
      if (!b.empty() && i % 4 == 0) b[0] = 1;  // get past the version byte
    } else {
      // A valid header followed by noise, or a valid sketch with bytes overwritten.
      b = valid;
      const std::size_t from = rng() % b.size();
      for (std::size_t k = from; k < std::min(b.size(), from + 1 + rng() % 8); ++k) {
        b[k] = static_cast<std::uint8_t>(rng());
      }
      if (rng() % 2) b.resize(from + rng() % 16);
    }
    check_hostile(b, acc);
  }
}

Bytes header(int scale, std::uint8_t flags, std::uint64_t max_buckets, std::uint64_t count,
             double sum, double min, double max, std::uint64_t zero) {
  Bytes b = {1, static_cast<std::uint8_t>(static_cast<std::int8_t>(scale)), flags};
  put_varint(b, max_buckets);
  put_varint(b, count);
  if (count > 0) {
    put_f64(b, sum);
    put_f64(b, min);
    put_f64(b, max);
  }
  put_varint(b, zero);
  return b;
}

void expect_rejected(const Bytes& b, const std::string& what) {
  auto h = ExpHistogram::deserialize(b);
  ASSERT_FALSE(h.ok()) << what;
  EXPECT_EQ(h.status().code(), StatusCode::kCorruption) << what;
  EXPECT_NE(h.status().message().find("histogram"), std::string::npos) << h.status().message();
}

TEST(ExpHistogramCodecTest, RejectsEachInvalidField) {
  // A valid one-bucket positive store: offset 0, n 1, w 1, count 1.
  auto store = [](std::int64_t offset, std::uint64_t n, Bytes blocks) {
    Bytes s;
    put_svarint(s, offset);
    put_varint(s, n);
    s.insert(s.end(), blocks.begin(), blocks.end());
    return s;
  };
  auto with = [](Bytes a, const Bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  const Bytes ok = with(header(6, 1, 2048, 1, 1.0, 1.0, 1.0, 0), store(0, 1, {1, 1}));
  ASSERT_TRUE(ExpHistogram::deserialize(ok).ok());

  expect_rejected({}, "empty");
  Bytes v2 = ok;
  v2[0] = 2;
  expect_rejected(v2, "version");
  expect_rejected(with(header(9, 1, 2048, 1, 1, 1, 1, 0), store(0, 1, {1, 1})), "scale 9");
  expect_rejected(with(header(-5, 1, 2048, 1, 1, 1, 1, 0), store(0, 1, {1, 1})), "scale -5");
  expect_rejected(with(header(6, 5, 2048, 1, 1, 1, 1, 0), store(0, 1, {1, 1})), "flags");
  expect_rejected(with(header(6, 1, 127, 1, 1, 1, 1, 0), store(0, 1, {1, 1})), "max_buckets");
  expect_rejected(with(header(6, 1, 65537, 1, 1, 1, 1, 0), store(0, 1, {1, 1})), "max_buckets");
  expect_rejected(with(header(6, 1, 2048, 2, 1, 1, 1, 0), store(0, 1, {1, 1})), "count sum");
  expect_rejected(with(header(6, 1, 2048, 1, 1, 2, 1, 0), store(0, 1, {1, 1})), "min > max");
  expect_rejected(with(header(6, 1, 2048, 1, 1, kNaN, 1, 0), store(0, 1, {1, 1})), "NaN min");
  expect_rejected(with(header(6, 1, 2048, 1, 1, 1, kInf, 0), store(0, 1, {1, 1})), "inf max");
  expect_rejected(with(header(6, 1, 2048, 1, 1, 1, 1, 2), store(0, 1, {1, 1})), "zero > count");
  expect_rejected(header(6, 1, 2048, 0, 0, 0, 0, 0), "empty with store");
  expect_rejected(with(header(6, 1, 2048, 1, 1, 1, 1, 0), store(0, 0, {})), "n = 0");
  expect_rejected(with(header(6, 1, 128, 1, 1, 1, 1, 0), store(0, 129, Bytes(17, 0))), "n > cap");
  expect_rejected(with(header(6, 1, 2048, 1, 1, 1, 1, 0), store(65536, 1, {1, 1})), "offset high");
  expect_rejected(with(header(6, 1, 2048, 1, 1, 1, 1, 0), store(-65536, 1, {1, 1})), "offset low");
  expect_rejected(with(header(6, 1, 2048, 1, 1, 1, 1, 0), store(65535, 2, {1, 3})),
                  "offset + n past the top");
  expect_rejected(with(header(6, 1, 2048, 1, 1, 1, 1, 0),
                       store(std::numeric_limits<std::int64_t>::max() - 5, 7, {1, 1})),
                  "offset + n overflowing int64");
  expect_rejected(with(header(6, 1, 2048, 1, 1, 1, 1, 0),
                       store(std::numeric_limits<std::int64_t>::min(), 1, {1, 1})),
                  "offset at int64 min");
  expect_rejected(with(header(6, 1, 2048, 1, 1, 1, 1, 0), store(0, 1, {65, 1})), "width 65");
  expect_rejected(with(header(6, 1, 2048, 1, 1, 1, 1, 0), store(0, 1, {1, 3})), "padding");
  expect_rejected(with(header(6, 1, 2048, 1, 1, 1, 1, 0), store(0, 2, {2, 1, 0})), "last empty");
  expect_rejected(with(header(6, 1, 2048, 1, 1, 1, 1, 0), store(0, 2, {2, 4, 0})), "first empty");
  expect_rejected(with(ok, {0}), "trailing byte");
  // Counts that wrap around 2^64 to the header's count.
  Bytes wrap = header(6, 1, 2048, 1, 1, 1, 1, 0);
  wrap = with(wrap, store(0, 2, {}));
  wrap.push_back(64);
  put_u64(wrap, ~std::uint64_t{0});
  put_u64(wrap, 2);
  for (int k = 0; k < 6; ++k) put_u64(wrap, 0);
  expect_rejected(wrap, "wrapping counts");
  // A huge bucket count in a tiny input must not allocate.
  expect_rejected(with(header(6, 1, 65536, 1, 1, 1, 1, 0), store(0, 65536, {1, 1})), "huge n");
}

}  // namespace
// quantile() against the definition: sort the bucket representatives (clamped to [min, max])
// with their multiplicities, ±0 and subnormals at 0, and take rank floor(φ·(count-1)), the
// extreme ranks being min and max exactly. Covers the walk from either end.
TEST(ExpHistogramTest, QuantileIsTheRankOfTheExpandedBuckets) {
  std::mt19937_64 rng(4242);
  for (int round = 0; round < 200; ++round) {
    ExpHistogram h(ExpHistogramOptions{.scale = static_cast<int>(rng() % 9)});
    const int n = 1 + static_cast<int>(rng() % 300);
    for (int i = 0; i < n; ++i) {
      double v = std::exp(std::uniform_real_distribution<double>(-5, 5)(rng));
      if (round % 3 != 0 && rng() % 3 == 0) v = -v;
      if (round % 4 == 1 && rng() % 6 == 0) v = 0;
      h.add(v, 1 + rng() % 3);
    }
    // Representatives in ascending value order, from the quantiles of single ranks.
    std::vector<std::pair<double, std::uint64_t>> runs;  // (value, count) ascending
    auto rep = [&](double x) { return std::clamp(x, h.min(), h.max()); };
    const auto neg = h.negative_counts();
    for (std::size_t i = neg.size(); i-- > 0;) {
      if (neg[i] == 0) continue;
      const double lo =
          -std::exp2(static_cast<double>(h.negative_offset() + 1 + static_cast<std::int64_t>(i)) *
                     std::exp2(-h.scale()));
      runs.emplace_back(lo, neg[i]);
    }
    if (h.zero_count() > 0) runs.emplace_back(0.0, h.zero_count());
    const auto pos = h.positive_counts();
    for (std::size_t i = 0; i < pos.size(); ++i) {
      if (pos[i] == 0) continue;
      const double up =
          std::exp2(static_cast<double>(h.positive_offset() + 1 + static_cast<std::int64_t>(i)) *
                    std::exp2(-h.scale()));
      runs.emplace_back(up, pos[i]);
    }
    const double gamma = std::exp2(std::exp2(-h.scale()));
    const double factor = 2.0 / (gamma + 1.0);
    for (double phi : {0.0, 0.01, 0.2, 0.5, 0.51, 0.8, 0.95, 0.999, 1.0}) {
      const std::uint64_t last = h.count() - 1;
      std::uint64_t rank = last;
      if (phi * static_cast<double>(last) < static_cast<double>(last)) {
        rank = static_cast<std::uint64_t>(std::floor(phi * static_cast<double>(last)));
      }
      double want;
      if (rank == 0) {
        want = h.min();
      } else if (rank == last) {
        want = h.max();
      } else {
        std::uint64_t seen = 0;
        want = std::numeric_limits<double>::quiet_NaN();
        for (const auto& [bound, c] : runs) {
          seen += c;
          if (rank < seen) {
            want = rep(bound * factor);  // 2γ^(i+1)/(γ+1) = upper bound · 2/(γ+1)
            break;
          }
        }
      }
      const double got = h.quantile(phi);
      EXPECT_NEAR(got, want, std::abs(want) * 1e-12) << "round " << round << " phi " << phi;
    }
  }
}

}  // namespace edgesketch::sketch
