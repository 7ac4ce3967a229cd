// ExpHistogramAccumulator against the sketch it accumulates: merging serialized histograms
// through it gives the bytes ExpHistogram::deserialize() + merge_serialized() give, for any
// scales, bucket limits, signs and zero counts, and the bytes of the one sketch of all the values
// whatever the merge order; hostile bytes are rejected exactly when (and as) deserialize() rejects
// them, and a rejected input leaves the accumulator unchanged.
#include "edgesketch/sketch/exp_histogram_accumulator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "edgesketch/sketch/exp_histogram.h"
#include "support/random_histogram.h"

namespace edgesketch::sketch {
namespace {

using test_support::random_histogram;

Bytes merged_by_sketch(const std::vector<Bytes>& inputs) {
  auto h = ExpHistogram::deserialize(inputs[0]);
  EXPECT_TRUE(h.ok());
  for (std::size_t i = 1; i < inputs.size(); ++i) EXPECT_TRUE(h->merge_serialized(inputs[i]).ok());
  return h->serialize();
}

Bytes merged_by_accumulator(ExpHistogramAccumulator& m, const std::vector<Bytes>& inputs) {
  m.reset();
  for (const Bytes& b : inputs) EXPECT_TRUE(m.add(b).ok());
  Bytes out;
  m.serialize(out);
  return out;
}

TEST(ExpHistogramAccumulatorTest, MergesLikeTheSketch) {
  std::mt19937_64 rng(20240611);
  ExpHistogramAccumulator m;  // reused across cases: reset() must leave nothing behind
  for (int round = 0; round < 400; ++round) {
    std::vector<Bytes> inputs(1 + rng() % 8);
    for (auto& b : inputs) b = random_histogram(rng);
    const Bytes want = merged_by_sketch(inputs);
    EXPECT_EQ(merged_by_accumulator(m, inputs), want) << "round " << round;
    auto back = ExpHistogram::deserialize(want);
    ASSERT_TRUE(back.ok());
  }
}

// quantile() on the dense buckets is the sketch's quantile of the merge, bit for bit, at every
// rank (both ends and the middle, φ walked from either end).
TEST(ExpHistogramAccumulatorTest, QuantileEqualsTheMergedSketchs) {
  std::mt19937_64 rng(77);
  ExpHistogramAccumulator m;
  ExpHistogramAccumulator::Scratch scratch;
  const double phis[] = {0,      1e-9, 0.001, 0.1,  0.25,  0.4999,   0.5,
                         0.5001, 0.75, 0.9,   0.99, 0.999, 1 - 1e-9, 1};
  for (int round = 0; round < 300; ++round) {
    std::vector<Bytes> inputs(1 + rng() % 5);
    for (auto& b : inputs) b = random_histogram(rng);
    auto want = ExpHistogram::deserialize(merged_by_sketch(inputs));
    ASSERT_TRUE(want.ok());
    m.reset();
    for (const Bytes& b : inputs) ASSERT_TRUE(m.add(b, scratch).ok());
    ASSERT_EQ(m.count(), want->count());
    auto one = ExpHistogram::deserialize(inputs[0]);
    ASSERT_TRUE(one.ok());
    for (double phi : phis) {
      const double a = m.quantile(phi), b = want->quantile(phi);
      if (std::isnan(b)) {
        EXPECT_TRUE(std::isnan(a)) << "round " << round << " phi " << phi;
      } else {
        EXPECT_EQ(a, b) << "round " << round << " phi " << phi;
      }
      // Straight from one histogram's bytes.
      auto q = ExpHistogramAccumulator::quantile_of(inputs[0], phi, scratch);
      ASSERT_TRUE(q.ok());
      const double c = one->quantile(phi);
      if (std::isnan(c)) {
        EXPECT_TRUE(std::isnan(*q));
      } else {
        EXPECT_EQ(*q, c) << "round " << round << " phi " << phi;
      }
    }
    // Bytes deserialize() rejects are rejected.
    Bytes cut = inputs[0];
    cut.pop_back();
    EXPECT_EQ(ExpHistogramAccumulator::quantile_of(cut, 0.5, scratch).ok(),
              ExpHistogram::deserialize(cut).ok());
  }
}

// to_histogram() builds the object deserialize() builds from serialize(); add() of an object
// merges like add() of its bytes.
TEST(ExpHistogramAccumulatorTest, ObjectsInAndOutEqualTheBytesPath) {
  std::mt19937_64 rng(91);
  ExpHistogramAccumulator m, by_object;
  for (int round = 0; round < 300; ++round) {
    std::vector<Bytes> inputs(1 + rng() % 6);
    for (auto& b : inputs) b = random_histogram(rng);
    const Bytes want = merged_by_accumulator(m, inputs);
    auto built = m.to_histogram();
    ASSERT_TRUE(built.ok()) << built.status().to_string();
    auto decoded = ExpHistogram::deserialize(want);
    ASSERT_TRUE(decoded.ok());
    EXPECT_TRUE(*built == *decoded) << "round " << round;
    EXPECT_EQ(built->serialize(), want) << "round " << round;
    EXPECT_EQ(built->max_buckets(), decoded->max_buckets());
    by_object.reset();
    for (const Bytes& b : inputs) {
      auto h = ExpHistogram::deserialize(b);
      ASSERT_TRUE(h.ok());
      ASSERT_TRUE(by_object.add(*h).ok());
    }
    Bytes got;
    by_object.serialize(got);
    EXPECT_EQ(got, want) << "round " << round;
  }
}

// Counts of every packing width, 1 to 63 bits: each of the decoder's unpacking paths, and
// blocks at the very end of the input.
TEST(ExpHistogramAccumulatorTest, EveryCountWidthDecodesLikeTheSketch) {
  std::mt19937_64 rng(5);
  ExpHistogramAccumulator m;
  for (int w = 1; w <= 63; ++w) {
    for (int values : {1, 7, 8, 9, 20}) {
      ExpHistogram h(ExpHistogramOptions{.scale = 4, .max_buckets = 160});
      // Counts just below 2^w in total, spread over `values` buckets.
      const std::uint64_t each = ((std::uint64_t{1} << w) - 1) / static_cast<std::uint64_t>(values);
      for (int i = 0; i < values; ++i) {
        if (each > 0) h.add(1.0 + 0.3 * i, each - rng() % (each / 2 + 1));
      }
      const Bytes b = h.serialize();
      EXPECT_EQ(merged_by_accumulator(m, {b}), b) << "width " << w << ", " << values << " values";
      const Bytes other = random_histogram(rng);
      EXPECT_EQ(merged_by_accumulator(m, {other, b}), merged_by_sketch({other, b}))
          << "width " << w << ", " << values << " values";
    }
  }
}

// Full blocks of 9 to 56 bits take the decoder's fused path: every position of a block holds a
// different count of the block's width, in both stores, and the quantile reads them back in order.
TEST(ExpHistogramAccumulatorTest, WideFullBlocksDecodeEveryPositionLikeTheSketch) {
  ExpHistogramAccumulator m;
  ExpHistogramAccumulator::Scratch scratch;
  for (int w = 9; w <= 56; ++w) {
    ExpHistogram h(ExpHistogramOptions{.scale = 4, .max_buckets = 160});
    // 24 adjacent buckets per sign (3 full blocks): bucket i of scale 4 is (2^(i/16),
    // 2^((i+1)/16)].
    for (int i = 0; i < 24; ++i) {
      const std::uint64_t c = (std::uint64_t{1} << (w - 1)) + static_cast<std::uint64_t>(i) * 7919;
      const double v = std::exp2((i + 0.5) / 16);
      h.add(v, c);
      h.add(-v, c + 1);
    }
    const Bytes b = h.serialize();
    EXPECT_EQ(merged_by_accumulator(m, {b}), b) << "width " << w;
    EXPECT_EQ(merged_by_accumulator(m, {b, b}), merged_by_sketch({b, b})) << "width " << w;
    for (double phi : {0.0, 0.1, 0.49, 0.5, 0.77, 1.0}) {
      const Result<double> q = ExpHistogramAccumulator::quantile_of(b, phi, scratch);
      ASSERT_TRUE(q.ok()) << q.status().to_string();
      EXPECT_EQ(*q, h.quantile(phi)) << "width " << w << ", phi " << phi;
    }
  }
}

TEST(ExpHistogramAccumulatorTest, SingleInputRoundTripsItsCanonicalBytes) {
  std::mt19937_64 rng(3);
  ExpHistogramAccumulator m;
  for (int round = 0; round < 100; ++round) {
    const Bytes b = random_histogram(rng);
    EXPECT_EQ(merged_by_accumulator(m, {b}), b);
  }
}

TEST(ExpHistogramAccumulatorTest, AcceptsExactlyWhatDeserializeAccepts) {
  std::mt19937_64 rng(11);
  ExpHistogramAccumulator m;
  int rejected = 0;
  for (int round = 0; round < 3000; ++round) {
    Bytes b = random_histogram(rng);
    // Flip, truncate, extend or overwrite a few bytes.
    const int mutations = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < mutations && !b.empty(); ++k) {
      switch (rng() % 4) {
        case 0:
          b[rng() % b.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
          break;
        case 1:
          b.resize(rng() % b.size());
          break;
        case 2:
          b.push_back(static_cast<std::uint8_t>(rng()));
          break;
        default:
          b[rng() % b.size()] = static_cast<std::uint8_t>(rng());
      }
    }
    const auto decoded = ExpHistogram::deserialize(b);
    const bool sketch_ok = decoded.ok();
    // Merge the mutated bytes after a valid histogram: on rejection the accumulator still
    // holds exactly the valid one.
    const Bytes base = random_histogram(rng);
    m.reset();
    ASSERT_TRUE(m.add(base).ok());
    const Status s = m.add(b);
    EXPECT_EQ(s.ok() || s.code() == StatusCode::kOutOfRange, sketch_ok) << "round " << round;
    // One decoder: the same error, word for word.
    if (!sketch_ok) {
      EXPECT_EQ(s.to_string(), decoded.status().to_string()) << "round " << round;
    }
    Bytes got;
    m.serialize(got);
    if (s.ok()) {
      EXPECT_EQ(got, merged_by_sketch({base, b})) << "round " << round;
    } else {
      ++rejected;
      EXPECT_EQ(got, merged_by_sketch({base})) << "round " << round;
    }
  }
  EXPECT_GT(rejected, 1000);
}

TEST(ExpHistogramAccumulatorTest, CountOverflowIsRejectedAndLeavesTheAccumulatorUnchanged) {
  ExpHistogram big;
  big.add(1.0, std::numeric_limits<std::uint64_t>::max() - 1);
  ExpHistogram two;
  two.add(2.0, 2);
  ExpHistogramAccumulator m;
  ASSERT_TRUE(m.add(big.serialize()).ok());
  EXPECT_EQ(m.add(two.serialize()).code(), StatusCode::kOutOfRange);
  Bytes got;
  m.serialize(got);
  EXPECT_EQ(got, big.serialize());
}

// The golden bytes of ExpHistogramCodecTest.GoldenBytes, written by the accumulator from parts
// of the data: in either order, from objects or bytes, and with a part at a finer scale that the
// merge brings down.
TEST(ExpHistogramAccumulatorTest, GoldenBytes) {
  const Bytes expected = {
      0x01, 0x00, 0x03, 0x80, 0x01, 0x05,              // version, scale, flags, max_buckets, count
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x16, 0x40,  // sum 5.5
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0,  // min -2
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x40,  // max 3.5
      0x01,                                            // zero_count
      0x01, 0x03, 0x02, 0x21, 0x00,                    // positive: offset -1, 3 buckets, w=2: 1,0,2
      0x00, 0x01, 0x01, 0x01,                          // negative: offset 0, 1 bucket, w=1: 1
  };
  ExpHistogram a({.scale = 0, .max_buckets = 128});
  for (double v : {1.0, -2.0, 0.0}) a.add(v);
  for (const int fine_scale : {0, 3, 8}) {
    ExpHistogram b({.scale = fine_scale, .max_buckets = 128});
    for (double v : {3.0, 3.5}) b.add(v);
    ExpHistogramAccumulator m;
    EXPECT_EQ(merged_by_accumulator(m, {a.serialize(), b.serialize()}), expected) << fine_scale;
    m.reset();
    ASSERT_TRUE(m.add(b).ok());
    ASSERT_TRUE(m.add(a).ok());
    Bytes got;
    m.serialize(got);
    EXPECT_EQ(got, expected) << fine_scale;
  }
}

// Integer values (so that the sum is exact in any order) over six decades, both signs and zeros:
// enough buckets to make the sketch lower its scale several times at a small max_buckets.
std::vector<double> integer_values(std::mt19937_64& rng, int n) {
  std::vector<double> out;
  for (int i = 0; i < n; ++i) {
    double v = std::round(std::pow(10.0, std::uniform_real_distribution<double>(0, 6)(rng)));
    if (rng() % 3 == 0) v = -v;
    if (rng() % 17 == 0) v = 0;
    out.push_back(v);
  }
  return out;
}

// Bit identity: split the values into parts in any way (parts at the target's scale or finer, some
// empty), merge the parts' bytes or objects in any order or grouping through accumulators, and
// serialize() writes exactly ExpHistogram::serialize() of the one sketch of all the values, which
// the sketch's own merges (merge_serialized, merge) also reach.
TEST(ExpHistogramAccumulatorTest, AnyMergeOrderWritesTheBytesOfTheOneSketch) {
  std::mt19937_64 rng(424242);
  const std::vector<double> values = integer_values(rng, 4000);
  const ExpHistogramOptions cases[] = {
      {.scale = 8, .max_buckets = 128},  {.scale = 8, .max_buckets = 2048},
      {.scale = 6, .max_buckets = 160},  {.scale = 3, .max_buckets = 128},
      {.scale = -2, .max_buckets = 128},
  };
  ExpHistogramAccumulator m, group;
  ExpHistogramAccumulator::Scratch scratch;
  for (const ExpHistogramOptions& o : cases) {
    ExpHistogram whole(o);
    for (double v : values) whole.add(v);
    const Bytes want = whole.serialize();
    if (o.max_buckets == 128 && o.scale > 0) {
      EXPECT_LT(whole.scale(), o.scale);  // the case downscales
    }
    for (int round = 0; round < 25; ++round) {
      SCOPED_TRACE(testing::Message() << "scale " << o.scale << " max_buckets " << o.max_buckets
                                      << " round " << round);
      std::vector<double> shuffled = values;
      std::shuffle(shuffled.begin(), shuffled.end(), rng);
      const std::size_t parts = 1 + rng() % 12;
      std::vector<std::size_t> cuts = {0, shuffled.size()};
      for (std::size_t k = 1; k < parts; ++k) cuts.push_back(rng() % (shuffled.size() + 1));
      std::sort(cuts.begin(), cuts.end());
      std::vector<ExpHistogram> objects;
      for (std::size_t k = 0; k + 1 < cuts.size(); ++k) {
        // The first part at the target's scale, the others at it or finer.
        const int scale = k == 0 ? o.scale : std::min(8, o.scale + static_cast<int>(rng() % 4));
        ExpHistogram part({.scale = scale, .max_buckets = o.max_buckets});
        for (std::size_t i = cuts[k]; i < cuts[k + 1]; ++i) part.add(shuffled[i]);
        objects.push_back(std::move(part));
      }
      std::shuffle(objects.begin(), objects.end(), rng);
      std::vector<Bytes> bytes;
      for (const auto& h : objects) bytes.push_back(h.serialize());

      // One accumulator, bytes and objects mixed.
      m.reset();
      for (std::size_t k = 0; k < objects.size(); ++k) {
        ASSERT_TRUE((rng() % 2 ? m.add(bytes[k], scratch) : m.add(objects[k])).ok());
      }
      Bytes got;
      m.serialize(got);
      EXPECT_EQ(got, want);
      auto built = m.to_histogram();
      ASSERT_TRUE(built.ok());
      EXPECT_EQ(*built, whole);

      // Groups merged apart, their serialized merges merged again.
      m.reset();
      for (std::size_t k = 0; k < bytes.size();) {
        const std::size_t end = std::min(bytes.size(), k + 1 + rng() % 4);
        group.reset();
        for (; k < end; ++k) ASSERT_TRUE(group.add(bytes[k]).ok());
        Bytes g;
        group.serialize(g);
        ASSERT_TRUE(m.add(g).ok());
      }
      got.clear();
      m.serialize(got);
      EXPECT_EQ(got, want);

      // The sketch's own paths reach the same bytes.
      auto via_bytes = ExpHistogram::deserialize(bytes[0]);
      ASSERT_TRUE(via_bytes.ok());
      ExpHistogram via_objects = objects[0];
      for (std::size_t k = 1; k < objects.size(); ++k) {
        ASSERT_TRUE(via_bytes->merge_serialized(bytes[k]).ok());
        ASSERT_TRUE(via_objects.merge(objects[k]).ok());
      }
      EXPECT_EQ(via_bytes->serialize(), want);
      EXPECT_EQ(via_objects.serialize(), want);
    }
  }
}

// A reused accumulator's buffers stay within a quarter above max_buckets per store, however many
// histograms of whatever ranges it has merged (a scan keeps thousands of accumulators).
TEST(ExpHistogramAccumulatorTest, MemoryIsBoundedByMaxBuckets) {
  std::mt19937_64 rng(8);
  ExpHistogramAccumulator m;
  for (int round = 0; round < 300; ++round) {
    m.reset();
    for (int k = 0; k < 5; ++k) ASSERT_TRUE(m.add(random_histogram(rng)).ok());
    EXPECT_LE(m.memory_bytes(), sizeof(m) + 2 * 8 * (2048 + 2048 / 4 + 64));
  }
}

}  // namespace
}  // namespace edgesketch::sketch
