// HistogramMerger against the sketch it stands in for: merging serialized histograms through the
// merger gives the bytes ExpHistogram::deserialize() + merge_serialized() give, for any scales,
// bucket limits, signs and zero counts; hostile bytes are accepted exactly when deserialize()
// accepts them, and a rejected input leaves the merger unchanged.
#include "histogram_merger.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "edgesketch/sketch/exp_histogram.h"
#include "row_accumulator.h"

namespace edgesketch::store {
namespace {

using sketch::ExpHistogram;
using sketch::ExpHistogramOptions;

// A histogram of n values spread over `decades` decades, some negative and some zero, at a
// random scale and bucket limit.
Bytes random_histogram(std::mt19937_64& rng) {
  std::uniform_int_distribution<int> scale(-4, 8);
  const int buckets[] = {128, 160, 2048};
  ExpHistogram h(ExpHistogramOptions{.scale = scale(rng), .max_buckets = buckets[rng() % 3]});
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

Bytes merged_by_sketch(const std::vector<Bytes>& inputs) {
  auto h = ExpHistogram::deserialize(inputs[0]);
  EXPECT_TRUE(h.ok());
  for (std::size_t i = 1; i < inputs.size(); ++i) EXPECT_TRUE(h->merge_serialized(inputs[i]).ok());
  return h->serialize();
}

Bytes merged_by_merger(HistogramMerger& m, const std::vector<Bytes>& inputs) {
  m.reset();
  for (const Bytes& b : inputs) EXPECT_TRUE(m.add(b).ok());
  Bytes out;
  m.serialize(out);
  return out;
}

TEST(HistogramMergerTest, MergesLikeTheSketch) {
  std::mt19937_64 rng(20240611);
  HistogramMerger m;  // reused across cases: reset() must leave nothing behind
  for (int round = 0; round < 400; ++round) {
    std::vector<Bytes> inputs(1 + rng() % 8);
    for (auto& b : inputs) b = random_histogram(rng);
    const Bytes want = merged_by_sketch(inputs);
    EXPECT_EQ(merged_by_merger(m, inputs), want) << "round " << round;
    auto back = ExpHistogram::deserialize(want);
    ASSERT_TRUE(back.ok());
  }
}

// quantile() on the dense buckets is the sketch's quantile of the merge, bit for bit, at every
// rank (both ends and the middle, φ walked from either end).
TEST(HistogramMergerTest, QuantileEqualsTheMergedSketchs) {
  std::mt19937_64 rng(77);
  HistogramMerger m;
  HistogramMerger::Scratch scratch;
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
      auto q = HistogramMerger::quantile_of(inputs[0], phi, scratch);
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
    EXPECT_EQ(HistogramMerger::quantile_of(cut, 0.5, scratch).ok(),
              ExpHistogram::deserialize(cut).ok());
  }
}

// to_histogram() builds the object deserialize() builds from serialize(); add() of an object
// merges like add() of its bytes.
TEST(HistogramMergerTest, ObjectsInAndOutEqualTheBytesPath) {
  std::mt19937_64 rng(91);
  HistogramMerger m, by_object;
  HistogramMerger::Scratch scratch;
  for (int round = 0; round < 300; ++round) {
    std::vector<Bytes> inputs(1 + rng() % 6);
    for (auto& b : inputs) b = random_histogram(rng);
    const Bytes want = merged_by_merger(m, inputs);
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
      ASSERT_TRUE(by_object.add(*h, scratch).ok());
    }
    Bytes got;
    by_object.serialize(got);
    EXPECT_EQ(got, want) << "round " << round;
  }
}

// Counts of every packing width, 1 to 63 bits: each of the decoder's unpacking paths, and
// blocks at the very end of the input.
TEST(HistogramMergerTest, EveryCountWidthDecodesLikeTheSketch) {
  std::mt19937_64 rng(5);
  HistogramMerger m;
  for (int w = 1; w <= 63; ++w) {
    for (int values : {1, 7, 8, 9, 20}) {
      ExpHistogram h(ExpHistogramOptions{.scale = 4, .max_buckets = 160});
      // Counts just below 2^w in total, spread over `values` buckets.
      const std::uint64_t each = ((std::uint64_t{1} << w) - 1) / static_cast<std::uint64_t>(values);
      for (int i = 0; i < values; ++i) {
        if (each > 0) h.add(1.0 + 0.3 * i, each - rng() % (each / 2 + 1));
      }
      const Bytes b = h.serialize();
      EXPECT_EQ(merged_by_merger(m, {b}), b) << "width " << w << ", " << values << " values";
      const Bytes other = random_histogram(rng);
      EXPECT_EQ(merged_by_merger(m, {other, b}), merged_by_sketch({other, b}))
          << "width " << w << ", " << values << " values";
    }
  }
}

TEST(HistogramMergerTest, SingleInputRoundTripsItsCanonicalBytes) {
  std::mt19937_64 rng(3);
  HistogramMerger m;
  for (int round = 0; round < 100; ++round) {
    const Bytes b = random_histogram(rng);
    EXPECT_EQ(merged_by_merger(m, {b}), b);
  }
}

TEST(HistogramMergerTest, AcceptsExactlyWhatDeserializeAccepts) {
  std::mt19937_64 rng(11);
  HistogramMerger m;
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
    const bool sketch_ok = ExpHistogram::deserialize(b).ok();
    // Merge the mutated bytes after a valid histogram: on rejection the merger still holds
    // exactly the valid one.
    const Bytes base = random_histogram(rng);
    m.reset();
    ASSERT_TRUE(m.add(base).ok());
    const Status s = m.add(b);
    EXPECT_EQ(s.ok() || s.code() == StatusCode::kOutOfRange, sketch_ok) << "round " << round;
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

TEST(HistogramMergerTest, CountOverflowIsRejectedAndLeavesTheMergerUnchanged) {
  ExpHistogram big;
  big.add(1.0, std::numeric_limits<std::uint64_t>::max() - 1);
  ExpHistogram two;
  two.add(2.0, 2);
  HistogramMerger m;
  ASSERT_TRUE(m.add(big.serialize()).ok());
  EXPECT_EQ(m.add(two.serialize()).code(), StatusCode::kOutOfRange);
  Bytes got;
  m.serialize(got);
  EXPECT_EQ(got, big.serialize());
}

// Runs of rows through one shared merger give what row-at-a-time merging gives.
TEST(HistogramMergerTest, RowAccumulatorRunsEqualSingleRowAdds) {
  std::mt19937_64 rng(5);
  HistogramMerger shared;
  for (int round = 0; round < 50; ++round) {
    RowAccumulator by_run, by_row, other;
    HistogramMerger own;
    ASSERT_TRUE(by_run.begin_run(shared).ok());
    for (int i = 0; i < 6; ++i) {
      const Bytes h = random_histogram(rng);
      auto decoded = ExpHistogram::deserialize(h);
      ASSERT_TRUE(decoded.ok());
      PartRow row;
      row.count = decoded->count();
      row.sum = decoded->sum();
      row.min = decoded->count() ? decoded->min() : std::numeric_limits<double>::infinity();
      row.max = decoded->count() ? decoded->max() : -std::numeric_limits<double>::infinity();
      row.histogram = h;
      if (i == 3) {
        // Another accumulator's run in between (a run ends before the merger is reused).
        by_run.end_run(shared);
        ASSERT_TRUE(other.add(row, shared).ok());
        ASSERT_TRUE(by_run.begin_run(shared).ok());
      }
      ASSERT_TRUE(by_run.add_to_run(row, shared).ok());
      ASSERT_TRUE(by_row.add(row, own).ok());
    }
    by_run.end_run(shared);
    Bytes h1, d1, t1, h2, d2, t2;
    PartRow a, b;
    by_run.to_row(1, 0, h1, d1, t1, a);
    by_row.to_row(1, 0, h2, d2, t2, b);
    EXPECT_EQ(h1, h2);
    EXPECT_EQ(a.count, b.count);
    EXPECT_EQ(a.sum, b.sum);
  }
}

}  // namespace
}  // namespace edgesketch::store
