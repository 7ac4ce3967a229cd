// HyperLogLog: accuracy (fixed seeds), exact sparse->dense conversion, merge properties, wire
// format (golden bytes, round trips) and the decoder under hostile input.
#include "edgesketch/sketch/hyperloglog.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace edgesketch::sketch {
namespace {

// splitmix64's finalizer: a cheap stand-in for hash_key() of distinct keys in large tests.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Hash of key i in trial t: distinct for distinct (t, i) with i < 2^40.
std::uint64_t key_hash(std::uint64_t trial, std::uint64_t i) { return mix(trial << 40 | i); }

void add_range(HyperLogLog& h, std::uint64_t trial, std::uint64_t begin, std::uint64_t end) {
  for (std::uint64_t i = begin; i < end; ++i) h.add_hash(key_hash(trial, i));
}

HyperLogLog sketch_of(std::uint64_t trial, std::uint64_t begin, std::uint64_t end,
                      HllOptions options = {}) {
  HyperLogLog h(options);
  add_range(h, trial, begin, end);
  return h;
}

Bytes header(std::uint8_t kind, int precision, std::uint64_t seed = kDefaultHashSeed) {
  Bytes b;
  b.reserve(64);
  put_u8(b, HyperLogLog::kVersion);
  put_u8(b, kind);
  put_u8(b, static_cast<std::uint8_t>(precision));
  put_u64(b, seed);
  return b;
}

// A dense sketch with all registers zero, through the public wire format: lets a test run the
// dense estimator at small n and build dense sketches directly.
HyperLogLog empty_dense(HllOptions options = {}) {
  Bytes b = header(1, options.precision, options.seed);
  b.resize(b.size() + (std::size_t{6} << options.precision) / 8, 0);
  auto r = HyperLogLog::deserialize(b);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return std::move(r).value();
}

double rel_err(const HyperLogLog& h, double n) { return (h.estimate() - n) / n; }

struct ErrorStats {
  double mean = 0;      // bias
  double mean_abs = 0;  // mean |relative error|
  double rmse = 0;
};

ErrorStats stats(const std::vector<double>& errors) {
  ErrorStats s;
  for (double e : errors) {
    s.mean += e;
    s.mean_abs += std::abs(e);
    s.rmse += e * e;
  }
  const auto n = static_cast<double>(errors.size());
  s.mean /= n;
  s.mean_abs /= n;
  s.rmse = std::sqrt(s.rmse / n);
  return s;
}

double standard_error(int precision) { return 1.04 / std::sqrt(std::ldexp(1.0, precision)); }

// ---------------------------------------------------------------------------------------------
// Options and basics

TEST(HyperLogLogTest, ValidatesOptions) {
  EXPECT_TRUE(HyperLogLog::validate_options({}).ok());
  EXPECT_TRUE(HyperLogLog::validate_options({.precision = 4}).ok());
  EXPECT_TRUE(HyperLogLog::validate_options({.precision = 18}).ok());
  for (int p : {-1, 0, 3, 19, 64}) {
    Status s = HyperLogLog::validate_options({.precision = p});
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << p;
    EXPECT_NE(s.message().find(std::to_string(p)), std::string::npos) << s.message();
  }
  EXPECT_EQ(HyperLogLog({.precision = 2}).precision(), 4);
  EXPECT_EQ(HyperLogLog({.precision = 30}).precision(), 18);
  EXPECT_EQ(HyperLogLog({.seed = 42}).seed(), 42u);
}

TEST(HyperLogLogTest, EmptySketch) {
  HyperLogLog h;
  EXPECT_EQ(h.precision(), 12);
  EXPECT_EQ(h.seed(), kDefaultHashSeed);
  EXPECT_TRUE(h.is_sparse());
  EXPECT_EQ(h.estimate(), 0.0);
  EXPECT_EQ(h.dense_registers(), std::vector<std::uint8_t>(4096, 0));
  EXPECT_EQ(h.serialize().size(), 12u);
  EXPECT_EQ(empty_dense().estimate(), 0.0);
  EXPECT_EQ(h, HyperLogLog());
  EXPECT_FALSE(h == empty_dense());
  EXPECT_FALSE(h == HyperLogLog({.seed = 1}));
  EXPECT_FALSE(h == HyperLogLog({.precision = 11}));
}

TEST(HyperLogLogTest, AddIsHashKeyWithTheSketchSeed) {
  HyperLogLog a({.seed = 7}), b({.seed = 7});
  a.add("device-1");
  b.add_hash(hash_key("device-1", 7));
  EXPECT_EQ(a, b);
  a.add("device-1");  // duplicates change nothing
  EXPECT_EQ(a, b);
}

// ---------------------------------------------------------------------------------------------
// Accuracy

TEST(HyperLogLogAccuracyTest, ExactUpToOneHundred) {
  for (std::uint64_t seed : {1u, 2u, 3u, 4u, 5u}) {
    HyperLogLog h({.seed = seed});
    EXPECT_EQ(h.estimate(), 0.0);
    for (int n = 1; n <= 100; ++n) {
      h.add("device-" + std::to_string(n));
      h.add("device-" + std::to_string(n / 2 + 1));  // a repeat
      ASSERT_NEAR(h.estimate(), n, 1.0) << "seed " << seed;
    }
    EXPECT_TRUE(h.is_sparse());
  }
}

TEST(HyperLogLogAccuracyTest, NearExactBelowOneThousand) {
  for (std::uint64_t n : {200, 500, 1000}) {
    for (std::uint64_t trial = 0; trial < 20; ++trial) {
      HyperLogLog h = sketch_of(trial, 0, n);
      ASSERT_TRUE(h.is_sparse());
      EXPECT_LT(std::abs(rel_err(h, static_cast<double>(n))), 0.005) << n << " " << trial;
    }
  }
}

// Mean |relative error| and bias of the default sketch over 40 fixed trials, keys from hash_key
// for the smaller sizes and mixed counters at 1e6.
class HllAccuracyTest : public ::testing::TestWithParam<std::uint64_t> {};

TEST_P(HllAccuracyTest, MeanAbsoluteErrorAndBias) {
  const std::uint64_t n = GetParam();
  constexpr int kTrials = 40;
  std::vector<double> errors;
  for (int trial = 0; trial < kTrials; ++trial) {
    HyperLogLog h({.seed = 1000 + static_cast<std::uint64_t>(trial)});
    if (n <= 100000) {
      for (std::uint64_t i = 0; i < n; ++i) h.add("device-" + std::to_string(i));
    } else {
      add_range(h, static_cast<std::uint64_t>(trial), 0, n);
    }
    errors.push_back(rel_err(h, static_cast<double>(n)));
  }
  const ErrorStats s = stats(errors);
  EXPECT_LE(s.mean_abs, 0.0165) << "n " << n;
  EXPECT_LE(s.rmse, 1.3 * standard_error(12)) << "n " << n;
  EXPECT_LE(std::abs(s.mean), 3 * standard_error(12) / std::sqrt(kTrials)) << "n " << n;
}

INSTANTIATE_TEST_SUITE_P(Sizes, HllAccuracyTest, ::testing::Values(10000, 100000, 1000000));

// Ertl's estimator on dense registers across 1e2..1e7: no bias, sigma ~ 1.04/sqrt(m) (smaller at
// the low end, where it acts like linear counting).
TEST(HyperLogLogAccuracyTest, DenseEstimatorUnbiasedAcrossRange) {
  for (std::uint64_t n : {100, 1000, 10000, 100000, 1000000, 10000000}) {
    const int trials = n >= 10000000 ? 8 : 24;
    std::vector<double> errors;
    for (int trial = 0; trial < trials; ++trial) {
      HyperLogLog h = empty_dense();
      add_range(h, static_cast<std::uint64_t>(trial) + 77, 0, n);
      errors.push_back(rel_err(h, static_cast<double>(n)));
    }
    const ErrorStats s = stats(errors);
    EXPECT_LE(s.rmse, 1.35 * standard_error(12)) << "n " << n;
    EXPECT_LE(std::abs(s.mean), 3 * standard_error(12) / std::sqrt(trials)) << "n " << n;
  }
}

class HllPrecisionTest : public ::testing::TestWithParam<int> {};

// Error ~1.04/sqrt(m) at every precision; alpha_inf leaves a bias of ~+1.08/m, visible only at
// small p (documented in the header), so small p run more trials.
TEST_P(HllPrecisionTest, ErrorScalesWithPrecision) {
  const int p = GetParam();
  const double m = std::ldexp(1.0, p);
  const int trials = p <= 8 ? 400 : 20;
  const auto n = static_cast<std::uint64_t>(std::max(20000.0, 8 * m));
  std::vector<double> errors;
  for (int trial = 0; trial < trials; ++trial) {
    HyperLogLog h = sketch_of(static_cast<std::uint64_t>(trial) + 500, 0, n, {.precision = p});
    ASSERT_FALSE(h.is_sparse());
    errors.push_back(rel_err(h, static_cast<double>(n)));
  }
  const ErrorStats s = stats(errors);
  const double bias = 1.08 / m;
  EXPECT_LE(s.rmse, 1.3 * std::hypot(standard_error(p), bias)) << "p " << p;
  EXPECT_LE(std::abs(s.mean - bias), 3 * standard_error(p) / std::sqrt(trials)) << "p " << p;
}

INSTANTIATE_TEST_SUITE_P(Precisions, HllPrecisionTest, ::testing::Values(4, 6, 8, 10, 14, 16, 18));

// 1e6 keys in 100 disjoint sketches of 1e4, merged, 40 trials: bit-identical to one sketch of all
// keys.
TEST(HyperLogLogAccuracyTest, MergeOfOneHundredDisjointSketches) {
  std::vector<double> errors;
  for (std::uint64_t trial = 100; trial < 140; ++trial) {
    HyperLogLog merged;
    for (std::uint64_t s = 0; s < 100; ++s) {
      ASSERT_TRUE(merged.merge(sketch_of(trial, s * 10000, (s + 1) * 10000)).ok());
    }
    if (trial < 102) {
      EXPECT_EQ(merged, sketch_of(trial, 0, 1000000));
    }
    errors.push_back(rel_err(merged, 1e6));
  }
  const ErrorStats s = stats(errors);
  EXPECT_LE(s.mean_abs, 0.0165);
  EXPECT_LE(std::abs(s.mean), 3 * standard_error(12) / std::sqrt(40.0));
}

// 1,000 overlapping sparse sketches of 1,000 keys each (key ranges shifted by 500): 500,500
// distinct keys; the union turns dense and equals the direct sketch.
TEST(HyperLogLogAccuracyTest, MergeOfOneThousandOverlappingSketches) {
  std::vector<double> errors;
  for (std::uint64_t trial = 0; trial < 8; ++trial) {
    HyperLogLog merged;
    for (std::uint64_t s = 0; s < 1000; ++s) {
      HyperLogLog part = sketch_of(trial, s * 500, s * 500 + 1000);
      ASSERT_TRUE(part.is_sparse());
      ASSERT_TRUE(merged.merge(part).ok());
    }
    if (trial == 0) {
      EXPECT_EQ(merged, sketch_of(trial, 0, 500500));
    }
    errors.push_back(rel_err(merged, 500500));
  }
  EXPECT_LE(stats(errors).mean_abs, 0.0165);
}

// ---------------------------------------------------------------------------------------------
// Representation and merges

// Adds keys one by one to a sparse and a dense sketch: the registers agree at every step, the
// sparse one turns dense exactly past 2^p / 4 distinct coupons.
class HllConversionTest : public ::testing::TestWithParam<int> {};

TEST_P(HllConversionTest, SparseRegistersEqualDenseRegisters) {
  const int p = GetParam();
  const std::size_t limit = (std::size_t{1} << p) / 4;
  HyperLogLog sparse({.precision = p});
  HyperLogLog dense = empty_dense({.precision = p});
  std::mt19937_64 rng(static_cast<std::uint64_t>(p));
  std::vector<std::uint64_t> hashes;
  for (std::uint64_t i = 0; sparse.is_sparse(); ++i) {
    std::uint64_t h = rng();
    // Every 7th hash has zero low coupon bits, to exercise rho'; every 5th repeats a key.
    if (i % 7 == 0) h &= ~(std::uint64_t{63} << (64 - p - 6));
    if (i % 5 == 4) h = hashes[rng() % hashes.size()];
    hashes.push_back(h);
    sparse.add_hash(h);
    dense.add_hash(h);
    if (i % 97 == 0 || !sparse.is_sparse()) {
      ASSERT_EQ(sparse.dense_registers(), dense.dense_registers()) << "after " << i + 1;
    }
    ASSERT_LT(i, 100 * limit);
  }
  EXPECT_EQ(sparse.dense_registers(), dense.dense_registers());
  EXPECT_EQ(sparse, dense);
}

INSTANTIATE_TEST_SUITE_P(Precisions, HllConversionTest, ::testing::Values(4, 5, 10, 12, 18));

TEST(HyperLogLogTest, TurnsDenseExactlyPastTheLimit) {
  HyperLogLog h;
  // Hashes with distinct idx' (top 18 bits), each added twice.
  for (std::uint64_t i = 0; i < 1024; ++i) {
    h.add_hash(i << 46 | 12345);
    h.add_hash(i << 46 | 12345);
  }
  EXPECT_TRUE(h.is_sparse());
  EXPECT_NEAR(h.estimate(), 1024, 3);
  h.add_hash(std::uint64_t{5000} << 46);
  EXPECT_FALSE(h.is_sparse());
}

TEST(HyperLogLogTest, RhoUsesAllRemainingBits) {
  // Top p bits 0, remaining bits all zero: the largest rho, 64 - p + 1, through sparse and dense.
  for (int p : {4, 12, 18}) {
    HyperLogLog s({.precision = p});
    s.add_hash(0);
    HyperLogLog d = empty_dense({.precision = p});
    d.add_hash(0);
    EXPECT_EQ(s.dense_registers()[0], 64 - p + 1);
    EXPECT_EQ(d.dense_registers()[0], 64 - p + 1);
    // All ones: last register, rho 1.
    d.add_hash(~std::uint64_t{0});
    EXPECT_EQ(d.dense_registers().back(), 1);
  }
}

TEST(HyperLogLogTest, MergeAllRepresentationCombinations) {
  struct Case {
    std::uint64_t a_end, b_begin, b_end;
    bool a_sparse, b_sparse, result_sparse;
  };
  const Case cases[] = {
      {300, 200, 600, true, true, true},          // sparse + sparse, stays sparse
      {700, 500, 1200, true, true, false},        // sparse + sparse, union past the limit
      {500, 0, 50000, true, false, false},        // sparse + dense
      {50000, 49000, 49500, false, true, false},  // dense + sparse
      {50000, 30000, 90000, false, false, false}  // dense + dense
  };
  for (const Case& c : cases) {
    HyperLogLog a = sketch_of(9, 0, c.a_end);
    const HyperLogLog b = sketch_of(9, c.b_begin, c.b_end);
    ASSERT_EQ(a.is_sparse(), c.a_sparse);
    ASSERT_EQ(b.is_sparse(), c.b_sparse);
    HyperLogLog via_bytes = a;
    ASSERT_TRUE(a.merge(b).ok());
    ASSERT_TRUE(via_bytes.merge_serialized(b.serialize()).ok());
    const HyperLogLog direct = sketch_of(9, 0, std::max(c.a_end, c.b_end));
    EXPECT_EQ(a.is_sparse(), c.result_sparse) << c.a_end;
    EXPECT_EQ(a, direct) << c.a_end;
    EXPECT_EQ(a.dense_registers(), direct.dense_registers()) << c.a_end;
    EXPECT_EQ(via_bytes, direct) << c.a_end;
  }
}

TEST(HyperLogLogTest, MergeIsOrderAndGroupingIndependent) {
  // 12 parts, some sparse and some dense, overlapping.
  const std::uint64_t sizes[] = {10, 300, 5000, 2, 800, 40000, 1, 600, 1000, 100, 20000, 700};
  std::vector<HyperLogLog> parts;
  std::uint64_t begin = 0;
  for (std::uint64_t size : sizes) {
    parts.push_back(sketch_of(3, begin, begin + size));
    begin += size * 2 / 3;
  }
  std::mt19937_64 rng(11);
  std::vector<HyperLogLog> results;
  for (int round = 0; round < 30; ++round) {
    std::vector<HyperLogLog> pool = parts;
    std::shuffle(pool.begin(), pool.end(), rng);
    // Merge random pairs until one is left: random order and random tree shape.
    while (pool.size() > 1) {
      const std::size_t i = rng() % pool.size();
      std::size_t j = rng() % (pool.size() - 1);
      if (j >= i) ++j;
      ASSERT_TRUE(pool[i].merge(pool[j]).ok());
      pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(j));
    }
    results.push_back(pool[0]);
  }
  for (const HyperLogLog& r : results) EXPECT_EQ(r, results[0]);
  EXPECT_FALSE(results[0].is_sparse());

  // Only sparse parts whose union stays sparse: the result is sparse for every order.
  std::vector<HyperLogLog> small = {sketch_of(4, 0, 300), sketch_of(4, 200, 500),
                                    sketch_of(4, 450, 900), sketch_of(4, 10, 20)};
  HyperLogLog ab = small[0], ba = small[3];
  for (std::size_t i = 1; i < small.size(); ++i) ASSERT_TRUE(ab.merge(small[i]).ok());
  for (std::size_t i = 0; i < 3; ++i) ASSERT_TRUE(ba.merge(small[2 - i]).ok());
  EXPECT_TRUE(ab.is_sparse());
  EXPECT_EQ(ab, ba);
  EXPECT_EQ(ab, sketch_of(4, 0, 900));
}

TEST(HyperLogLogTest, MergeWithItselfAndEmpty) {
  for (std::uint64_t n : {0, 100, 100000}) {
    HyperLogLog h = sketch_of(5, 0, n);
    const HyperLogLog before = h;
    ASSERT_TRUE(h.merge(h).ok());
    EXPECT_EQ(h, before);
    ASSERT_TRUE(h.merge(HyperLogLog()).ok());
    EXPECT_EQ(h, before);
    HyperLogLog empty;
    ASSERT_TRUE(empty.merge(before).ok());
    EXPECT_EQ(empty, before);
  }
}

TEST(HyperLogLogTest, RefusesMismatchedPrecisionOrSeed) {
  for (std::uint64_t n : {50, 50000}) {
    HyperLogLog h = sketch_of(6, 0, n);
    const HyperLogLog before = h;
    const HyperLogLog other_p = sketch_of(6, 0, n, {.precision = 14});
    const HyperLogLog other_seed = sketch_of(6, 0, n, {.seed = 99});

    Status s = h.merge(other_p);
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(s.message().find("12"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("14"), std::string::npos) << s.message();
    s = h.merge(other_seed);
    EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(s.message().find(std::to_string(kDefaultHashSeed)), std::string::npos);
    EXPECT_NE(s.message().find("99"), std::string::npos) << s.message();

    EXPECT_EQ(h.merge_serialized(other_p.serialize()).code(), StatusCode::kFailedPrecondition);
    EXPECT_EQ(h.merge_serialized(other_seed.serialize()).code(), StatusCode::kFailedPrecondition);
    EXPECT_EQ(h, before);
  }
}

TEST(HyperLogLogTest, MemoryFollowsRepresentation) {
  const HyperLogLog empty;
  const HyperLogLog small = sketch_of(1, 0, 100);
  const HyperLogLog large = sketch_of(1, 0, 100000);
  EXPECT_LT(empty.memory_bytes(), 200u);
  EXPECT_LT(small.memory_bytes(), 1000u);
  EXPECT_GE(large.memory_bytes(), 4096u);
  EXPECT_LT(large.memory_bytes(), 4096u + 200u);
}

// ---------------------------------------------------------------------------------------------
// Wire format

// Three coupons at p = 4 (p' = 10), worked by hand: idx' 5, 64 (rho' 3) and 1023. Gaps 5, 58,
// 958 -> k = 8; stream 1|10100000 1|01011100|110000 0001|01111101, zero-padded.
TEST(HyperLogLogWireTest, GoldenSparse) {
  HyperLogLog h({.precision = 4, .seed = 1});
  h.add_hash(std::uint64_t{5} << 54);
  h.add_hash(std::uint64_t{64} << 54 | std::uint64_t{1} << 51);
  h.add_hash(std::uint64_t{1023} << 54);
  ASSERT_TRUE(h.is_sparse());
  const Bytes golden = {0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
                        0x00, 0x00, 0x03, 0x08, 0x0B, 0xEA, 0x0C, 0xE8, 0x0B};
  EXPECT_EQ(h.serialize(), golden);
  auto back = HyperLogLog::deserialize(golden);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(*back, h);
  const std::vector<std::uint8_t> regs = h.dense_registers();
  EXPECT_EQ(regs[0], 4);   // idx' 5 = 0000 000101: 3 leading zeros in the low bits, + 1
  EXPECT_EQ(regs[1], 9);   // idx' 64 = 0001 000000, rho' 3 -> 6 + 3
  EXPECT_EQ(regs[15], 1);  // low bits 111111
}

// Five hashes at p = 4 turn the sketch dense with registers [1, 2, 3, 61, 0 x 11, 7].
TEST(HyperLogLogWireTest, GoldenDense) {
  HyperLogLog h({.precision = 4, .seed = 1});
  h.add_hash(std::uint64_t{1} << 59);
  h.add_hash(std::uint64_t{1} << 60 | std::uint64_t{1} << 58);
  h.add_hash(std::uint64_t{2} << 60 | std::uint64_t{1} << 57);
  h.add_hash(std::uint64_t{3} << 60);
  h.add_hash(std::uint64_t{15} << 60 | std::uint64_t{1} << 53);
  ASSERT_FALSE(h.is_sparse());
  std::vector<std::uint8_t> regs(16, 0);
  regs[0] = 1, regs[1] = 2, regs[2] = 3, regs[3] = 61, regs[15] = 7;
  EXPECT_EQ(h.dense_registers(), regs);
  // Group 0: 1 | 2 << 6 | 3 << 12 | 61 << 18 = 0xF43081; group 1: 7 << 42.
  const Bytes golden = {0x01, 0x01, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x81,
                        0x30, 0xF4, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1C};
  EXPECT_EQ(h.serialize(), golden);
  auto back = HyperLogLog::deserialize(golden);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(*back, h);
}

TEST(HyperLogLogWireTest, RoundTripsBothModes) {
  for (int p : {4, 7, 12, 18}) {
    for (std::uint64_t n : {0, 1, 2, 63, 100, 1000, 5000, 300000}) {
      HyperLogLog h =
          sketch_of(n + static_cast<std::uint64_t>(p), 0, n, {.precision = p, .seed = 1234});
      Bytes bytes;
      bytes.push_back(0xAB);  // serialize(out) appends
      h.serialize(bytes);
      ASSERT_EQ(ByteSpan(bytes).subspan(1).size(), h.serialize().size());
      auto back = HyperLogLog::deserialize(ByteSpan(bytes).subspan(1));
      ASSERT_TRUE(back.ok()) << back.status().to_string();
      EXPECT_EQ(*back, h) << p << " " << n;
      EXPECT_EQ(back->estimate(), h.estimate());
      EXPECT_EQ(back->serialize(), h.serialize());
      if (!h.is_sparse()) {
        EXPECT_EQ(h.serialize().size(), 11 + (std::size_t{6} << p) / 8);
      }
    }
  }
}

TEST(HyperLogLogWireTest, CompactSizes) {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    HyperLogLog h({.seed = seed});
    for (int i = 0; i < 100; ++i) h.add("device-" + std::to_string(i));
    EXPECT_LE(h.serialize().size(), 200u);
  }
  EXPECT_LE(sketch_of(1, 0, 1000000).serialize().size(), 3200u);
}

TEST(HyperLogLogWireTest, MergeSerializedEqualsMergeOfDeserialized) {
  std::mt19937_64 rng(5);
  const std::uint64_t sizes[] = {0, 1, 100, 1000, 1100, 20000};
  for (std::uint64_t a_n : sizes) {
    for (std::uint64_t b_n : sizes) {
      HyperLogLog a = sketch_of(8, 0, a_n);
      const HyperLogLog b = sketch_of(8, a_n / 2, a_n / 2 + b_n);
      HyperLogLog expected = a;
      const Bytes bytes = b.serialize();
      ASSERT_TRUE(expected.merge(HyperLogLog::deserialize(bytes).value()).ok());
      ASSERT_TRUE(a.merge_serialized(bytes).ok());
      EXPECT_EQ(a, expected) << a_n << " " << b_n;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Hostile input

void expect_corruption(const Bytes& bytes, const std::string& message_part) {
  auto r = HyperLogLog::deserialize(bytes);
  ASSERT_FALSE(r.ok()) << message_part;
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find(message_part), std::string::npos) << r.status().message();
  HyperLogLog h({.precision = bytes.size() > 2 ? std::clamp<int>(bytes[2], 4, 18) : 12});
  const HyperLogLog before = h;
  EXPECT_EQ(h.merge_serialized(bytes), r.status());
  EXPECT_EQ(h, before);
}

Bytes with(Bytes b, std::initializer_list<std::uint8_t> tail) {
  b.insert(b.end(), tail);
  return b;
}

TEST(HyperLogLogDecoderTest, RejectsEachKindOfCorruption) {
  const Bytes sparse_header = header(0, 4);
  const Bytes dense_header = header(1, 4);
  expect_corruption({}, "truncated header");
  expect_corruption({0x01, 0x00, 0x0C}, "truncated header");
  Bytes bad_version = header(0, 12);
  bad_version[0] = 2;
  expect_corruption(with(bad_version, {0}), "unsupported version 2");
  expect_corruption(with(header(2, 12), {0}), "unknown kind 2");
  expect_corruption(with(header(0, 3), {0}), "precision 3");
  expect_corruption(with(header(0, 19), {0}), "precision 19");
  expect_corruption(sparse_header, "coupon count");
  expect_corruption(with(sparse_header, {0x05}), "count 5 exceeds the limit 4");
  expect_corruption(
      with(sparse_header, {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}),
      "coupon count");
  expect_corruption(with(sparse_header, {0x00, 0x00}), "1 trailing bytes");
  expect_corruption(with(sparse_header, {0x01}), "truncated before the Rice parameter");
  expect_corruption(with(sparse_header, {0x01, 0x0B, 0xFF, 0xFF}), "Rice parameter 11");
  // Coupon 0 at idx' 1023, then gap 0 -> idx' 1024 >= 2^10.
  expect_corruption(with(sparse_header, {0x02, 0x0A, 0xFF, 0x0F, 0x00}), "index 1024");
  // idx' 0 needs rho' in 1..55: 0 and 63 are out of range.
  expect_corruption(with(sparse_header, {0x01, 0x00, 0x01}), "rho' 0");
  expect_corruption(with(sparse_header, {0x01, 0x00, 0x7F}), "rho' 63");
  // Too few bits for the count; a unary run past any index; a run to the end of the input.
  expect_corruption(with(sparse_header, {0x04, 0x08, 0xFF}), "truncated sparse body");
  Bytes long_run = with(sparse_header, {0x01, 0x00});
  long_run.resize(long_run.size() + 200, 0x00);  // 1,600 zero bits > 1023
  expect_corruption(long_run, "beyond the sparse precision");
  expect_corruption(with(sparse_header, {0x01, 0x00, 0x00, 0x00}),
                    "truncated sparse body at coupon 0");
  // Golden sparse with a padding bit set, and with a byte appended.
  const Bytes golden = {0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
                        0x00, 0x00, 0x03, 0x08, 0x0B, 0xEA, 0x0C, 0xE8, 0x0B};
  ASSERT_TRUE(HyperLogLog::deserialize(golden).ok());
  Bytes padded = golden;
  padded.back() |= 0x10;
  expect_corruption(padded, "non-zero padding");
  expect_corruption(with(golden, {0x00}), "1 trailing bytes");

  Bytes dense = dense_header;
  dense.resize(dense.size() + 12, 0);
  ASSERT_TRUE(HyperLogLog::deserialize(dense).ok());
  expect_corruption(Bytes(dense.begin(), dense.end() - 1), "truncated dense body");
  expect_corruption(with(dense, {0x00}), "trailing bytes in dense body");
  dense[11] = 62;  // register 0 = 62 > 64 - 4 + 1
  expect_corruption(dense, "register 0 has value 62");
  dense[11] = 61;
  EXPECT_TRUE(HyperLogLog::deserialize(dense).ok());
  dense[22] = 0xFC;  // register 15 = 63
  expect_corruption(dense, "register 15 has value 63");
}

TEST(HyperLogLogDecoderTest, SaturatedRegistersStayFinite) {
  for (int p : {4, 12, 18}) {
    // Every register at 64 - p + 1, the tau end of the estimator.
    HyperLogLog h = empty_dense({.precision = p});
    for (std::uint64_t i = 0; i < (std::uint64_t{1} << p); ++i) h.add_hash(i << (64 - p));
    const double e = h.estimate();
    EXPECT_TRUE(std::isfinite(e)) << p;
    EXPECT_GT(e, 1e18) << p;
  }
}

// Valid serializations used as mutation seeds.
std::vector<Bytes> sample_serializations() {
  std::vector<Bytes> out;
  for (int p : {4, 12}) {
    for (std::uint64_t n : {0, 1, 3, 100, 1000, 20000}) {
      out.push_back(sketch_of(n, 0, n, {.precision = p}).serialize());
    }
  }
  return out;
}

// Decoding any input either fails with kCorruption or yields a sketch that round-trips, and
// merge_serialized agrees with it.
void check_any_input(ByteSpan bytes) {
  auto r = HyperLogLog::deserialize(bytes);
  HyperLogLog target(
      {.precision = r.ok() ? r->precision() : 12, .seed = r.ok() ? r->seed() : kDefaultHashSeed});
  const HyperLogLog before = target;
  const Status merged = target.merge_serialized(bytes);
  if (!r.ok()) {
    ASSERT_EQ(r.status().code(), StatusCode::kCorruption);
    ASSERT_EQ(merged, r.status());
    ASSERT_EQ(target, before);
    return;
  }
  ASSERT_TRUE(merged.ok()) << merged.to_string();
  ASSERT_EQ(target, *r);
  ASSERT_TRUE(std::isfinite(r->estimate()));
  auto again = HyperLogLog::deserialize(r->serialize());
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(*again, *r);
}

TEST(HyperLogLogDecoderTest, EveryTruncationFails) {
  for (const Bytes& full : sample_serializations()) {
    for (std::size_t len = 0; len < full.size(); ++len) {
      auto r = HyperLogLog::deserialize(ByteSpan(full).first(len));
      ASSERT_FALSE(r.ok()) << "length " << len << " of " << full.size();
      ASSERT_EQ(r.status().code(), StatusCode::kCorruption);
    }
  }
}

TEST(HyperLogLogDecoderTest, BitFlipsNeverCrash) {
  for (const Bytes& full : sample_serializations()) {
    const std::size_t step = full.size() > 400 ? 7 : 1;
    for (std::size_t bit = 0; bit < full.size() * 8; bit += step) {
      Bytes b = full;
      b[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
      ASSERT_NO_FATAL_FAILURE(check_any_input(b)) << "bit " << bit << " of " << full.size();
    }
  }
}

TEST(HyperLogLogDecoderTest, RandomBytesNeverCrash) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) {
    Bytes b(rng() % 64);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    // Half of them behind a plausible header, so the body decoders see them.
    if (i % 2 == 0) {
      Bytes h = header(static_cast<std::uint8_t>(rng() % 2), 4 + static_cast<int>(rng() % 3));
      b.insert(b.begin(), h.begin(), h.end());
      if (b[1] == 0 && b.size() > 11) b[11] %= 5;  // a count within the limit at p = 4
    }
    ASSERT_NO_FATAL_FAILURE(check_any_input(b)) << i;
  }
}

}  // namespace
}  // namespace edgesketch::sketch
