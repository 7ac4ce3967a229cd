// Compact histogram entries of part blocks: exact round trips over histograms of every shape,
// the few-readings case taking the compact form, and rejection of malformed entries.
#include "histogram_compact.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "edgesketch/sketch/exp_histogram.h"
#include "edgesketch/sketch/window_aggregate.h"

namespace edgesketch::store {
namespace {

struct Case {
  Bytes canonical;
  RowStats row;
};

Case from_aggregate(const sketch::WindowAggregate& a) {
  Case c;
  a.histogram()->serialize(c.canonical);
  c.row = {a.count(), a.sum(), a.min(), a.max()};
  return c;
}

// Compacts (when it applies) and expands; returns whether the compact form was taken.
bool round_trip(const Case& c) {
  Bytes compact = {0xee};  // compact_histogram appends
  Bytes scratch;
  if (!compact_histogram(c.canonical, c.row, c.canonical.size(), compact, scratch)) {
    EXPECT_EQ(compact, Bytes{0xee});
    return false;
  }
  ByteReader r(ByteSpan(compact).subspan(1));
  Bytes expanded;
  EXPECT_TRUE(expand_compact_histogram(r, c.row, &expanded));
  EXPECT_TRUE(r.at_end());
  EXPECT_EQ(expanded, c.canonical);
  ByteReader check(ByteSpan(compact).subspan(1));
  EXPECT_TRUE(expand_compact_histogram(check, c.row, nullptr));
  EXPECT_TRUE(check.at_end());
  // Every truncation fails.
  for (std::size_t n = 1; n + 1 < compact.size(); ++n) {
    ByteReader t(ByteSpan(compact).subspan(1, n));
    Bytes out;
    EXPECT_FALSE(expand_compact_histogram(t, c.row, &out) && t.at_end()) << n;
  }
  return true;
}

TEST(StoreHistogramCompactTest, RoundTripsHistogramsOfEveryShape) {
  std::mt19937_64 rng(19);
  int compacted = 0, cases = 0;
  for (int i = 0; i < 3000; ++i) {
    sketch::AggregateSpec spec;
    spec.quantiles = true;
    spec.histogram.scale = static_cast<int>(rng() % 13) - 4;
    spec.histogram.max_buckets = rng() % 3 == 0 ? 160 : 2048;
    sketch::WindowAggregate a(spec);
    const int n = 1 + static_cast<int>(rng() % (rng() % 4 == 0 ? 2000 : 12));
    const int shape = static_cast<int>(rng() % 5);
    for (int k = 0; k < n; ++k) {
      const double u = static_cast<double>(rng() % 100000) / 1000.0;
      switch (shape) {
        case 0:
          a.add_value(std::round((21 + u / 50) * 100) / 100);
          break;  // sensor readings
        case 1:
          a.add_value(u - 50);
          break;  // both signs
        case 2:
          a.add_value(rng() % 3 == 0 ? 0.0 : u);
          break;  // zeros
        case 3:
          a.add_value(std::exp(u / 4));
          break;  // wide: downscales
        default:
          a.add_value(-std::ldexp(1.0, static_cast<int>(rng() % 200) - 100));
          break;
      }
    }
    Case c = from_aggregate(a);
    ++cases;
    if (round_trip(c)) ++compacted;
    // The histogram's own sum, min and max may differ from the row's.
    Case shifted = c;
    shifted.row.sum = std::nextafter(c.row.sum, 1e300);
    if (i % 3 == 0) shifted.row.min -= 1;
    if (i % 5 == 0) shifted.row.max += 1;
    ++cases;
    if (round_trip(shifted)) ++compacted;
  }
  // Most of these are small; the wide ones may keep the canonical form.
  EXPECT_GT(compacted, cases / 2);
}

TEST(StoreHistogramCompactTest, TenSensorReadingsTakeAFewBytes) {
  sketch::AggregateSpec spec;
  spec.quantiles = true;
  for (const double base : {21.0, 45.0, 1013.25, 0.8}) {
    sketch::WindowAggregate a(spec);
    for (int k = 0; k < 10; ++k) a.add_value(base + 0.01 * (k % 4));
    const Case c = from_aggregate(a);
    Bytes compact, scratch;
    ASSERT_TRUE(compact_histogram(c.canonical, c.row, c.canonical.size(), compact, scratch));
    // Head, first and last bucket offsets and at most a token and count per bucket.
    EXPECT_LE(compact.size(), 9u) << base;
    EXPECT_GT(c.canonical.size(), 30u);
    EXPECT_TRUE(round_trip(c));
  }
}

TEST(StoreHistogramCompactTest, KeepsTheCanonicalFormWhenCountsDisagree) {
  sketch::AggregateSpec spec;
  spec.quantiles = true;
  sketch::WindowAggregate a(spec);
  for (int k = 0; k < 10; ++k) a.add_value(21.0 + k);
  Case c = from_aggregate(a);
  c.row.count = 11;  // e.g. a categorical reading counted by the row only
  Bytes compact, scratch;
  EXPECT_FALSE(compact_histogram(c.canonical, c.row, c.canonical.size(), compact, scratch));
  EXPECT_TRUE(compact.empty());
  // And when the compact form would not be shorter.
  c.row.count = 10;
  EXPECT_FALSE(compact_histogram(c.canonical, c.row, 2, compact, scratch));
  EXPECT_TRUE(compact.empty());
}

TEST(StoreHistogramCompactTest, RejectsMalformedEntries) {
  const RowStats row{10, 215.0, 21.0, 22.0};
  const std::vector<Bytes> bad = {
      {},
      {0x0d},                    // scale 9
      {0x8a, 0, 0},              // head bit 7
      {0x4a, 0x40, 0, 0},        // unknown extras bit
      {0x4a, 0x00},              // no store, no zero count: the 10 readings are nowhere
      {0x4a, 0x01, 0x02, 0x01},  // last bucket before the first
      // Sparse: a gap past the last bucket.
      {0x0a, 0x00, 0x08, 0x10},
      // Dense: counts past the row's count.
      {0x1a, 0x00, 0x02, 0x0b},
      // A store wider than 65,536 buckets.
      {0x4a, 0x01, 0x00, 0x80, 0x80, 0x10},
  };
  for (const auto& b : bad) {
    ByteReader r(b);
    Bytes out;
    EXPECT_FALSE(expand_compact_histogram(r, row, &out) && r.at_end()) << b.size();
  }
  // A histogram of no readings has no compact form.
  const Bytes one_bucket = {0x0a, 0x00, 0x00};
  ByteReader r(one_bucket);
  EXPECT_FALSE(expand_compact_histogram(r, RowStats{0, 0, 0, 0}, nullptr));
}

}  // namespace
}  // namespace edgesketch::store
