// RowAccumulator's histogram runs: rows merged in runs through one shared
// sketch::ExpHistogramAccumulator (runs of several accumulators taking turns) give what merging
// row at a time through an accumulator of their own gives.
#include "row_accumulator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "edgesketch/sketch/exp_histogram.h"
#include "edgesketch/sketch/exp_histogram_accumulator.h"
#include "support/random_histogram.h"

namespace edgesketch::store {
namespace {

using sketch::ExpHistogram;
using sketch::ExpHistogramAccumulator;
using sketch::ExpHistogramOptions;

using test_support::random_histogram;

TEST(RowAccumulatorTest, HistogramRunsEqualSingleRowAdds) {
  std::mt19937_64 rng(5);
  ExpHistogramAccumulator shared;
  for (int round = 0; round < 50; ++round) {
    RowAccumulator by_run, by_row, other;
    ExpHistogramAccumulator own;
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
