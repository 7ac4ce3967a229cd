// WindowAggregate: scalar semantics, merge properties and from_parts validation.
#include "edgesketch/sketch/window_aggregate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "edgesketch/sketch/hash.h"

namespace edgesketch::sketch {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

AggregateSpec all_sketches() {
  AggregateSpec spec;
  spec.quantiles = true;
  spec.distinct = true;
  spec.topk = true;
  return spec;
}

// One reading of a seeded stream: a numeric value or an event, with a key for the sketches.
struct Input {
  bool is_event;
  double value;
  std::string key;
};

// `integral` keeps values integral so that sums are exact in any order.
std::vector<Input> make_inputs(std::size_t n, std::uint64_t seed, bool integral) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> lognormal(3.0, 1.5);
  std::uniform_int_distribution<int> key(0, 99);
  std::vector<Input> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    Input in;
    in.is_event = rng() % 10 == 0;
    in.value = lognormal(rng) * (rng() % 7 == 0 ? -1 : 1);
    if (integral) in.value = std::round(in.value);
    in.key = "key-" + std::to_string(key(rng));
    out.push_back(std::move(in));
  }
  return out;
}

void feed(WindowAggregate& agg, const Input& in) {
  if (in.is_event) {
    agg.add_event();
  } else {
    agg.add_value(in.value);
  }
  agg.add_distinct(hash_key(in.key));
  agg.add_top(hash_key(in.key), in.key);
}

// Aggregates of consecutive chunks of `inputs`, cut at the given sizes.
std::vector<WindowAggregate> aggregate_chunks(const std::vector<Input>& inputs,
                                              const std::vector<std::size_t>& sizes,
                                              const AggregateSpec& spec) {
  std::vector<WindowAggregate> parts;
  std::size_t pos = 0;
  for (std::size_t size : sizes) {
    WindowAggregate agg(spec);
    for (std::size_t i = pos; i < pos + size && i < inputs.size(); ++i) feed(agg, inputs[i]);
    pos += size;
    parts.push_back(std::move(agg));
  }
  return parts;
}

TEST(WindowAggregateTest, EmptyAggregate) {
  WindowAggregate plain;
  EXPECT_EQ(plain.count(), 0u);
  EXPECT_EQ(plain.sum(), 0);
  EXPECT_EQ(plain.min(), kInf);
  EXPECT_EQ(plain.max(), -kInf);
  EXPECT_EQ(plain.histogram(), nullptr);
  EXPECT_EQ(plain.distinct(), nullptr);
  EXPECT_EQ(plain.topk(), nullptr);

  WindowAggregate full(all_sketches());
  ASSERT_NE(full.histogram(), nullptr);
  ASSERT_NE(full.distinct(), nullptr);
  ASSERT_NE(full.topk(), nullptr);
  EXPECT_EQ(full.histogram()->count(), 0u);
  EXPECT_NE(plain, full);
}

TEST(WindowAggregateTest, ValuesEventsAndNonFinite) {
  WindowAggregate agg(all_sketches());
  agg.add_value(3.5);
  agg.add_value(-2);
  agg.add_value(std::nan(""));
  agg.add_value(kInf);
  agg.add_value(-kInf);
  agg.add_event();
  EXPECT_EQ(agg.count(), 3u);  // two values and one event; non-finite values are not counted
  EXPECT_EQ(agg.sum(), 1.5);
  EXPECT_EQ(agg.min(), -2);
  EXPECT_EQ(agg.max(), 3.5);
  EXPECT_EQ(agg.histogram()->count(), 2u);

  WindowAggregate events;
  events.add_event();
  events.add_event();
  EXPECT_EQ(events.count(), 2u);
  EXPECT_EQ(events.sum(), 0);
  EXPECT_EQ(events.min(), kInf);
  EXPECT_EQ(events.max(), -kInf);
}

TEST(WindowAggregateTest, DistinctAndTopKOnlyWhenEnabled) {
  WindowAggregate plain;
  plain.add_distinct(hash_key("a"));
  plain.add_top(hash_key("a"), "a");
  EXPECT_EQ(plain, WindowAggregate());

  WindowAggregate agg(all_sketches());
  for (int i = 0; i < 5; ++i) agg.add_top(hash_key("hot"), "hot");
  agg.add_top(hash_key("cold"), "cold");
  for (const char* k : {"a", "b", "c", "a"}) agg.add_distinct(hash_key(k));
  EXPECT_NEAR(agg.distinct()->estimate(), 3.0, 0.01);
  auto top = agg.topk()->top(1);
  ASSERT_EQ(top.size(), 1u);
  EXPECT_EQ(top[0].key, "hot");
  EXPECT_EQ(top[0].count, 5u);
}

TEST(WindowAggregateTest, MergeEqualsStraightAggregation) {
  const auto inputs = make_inputs(5000, 7, /*integral=*/true);
  const AggregateSpec spec = all_sketches();
  WindowAggregate straight(spec);
  for (const auto& in : inputs) feed(straight, in);

  auto parts = aggregate_chunks(inputs, {1, 999, 0, 2500, 1500}, spec);
  WindowAggregate merged(spec);
  for (const auto& p : parts) ASSERT_TRUE(merged.merge(p).ok());
  EXPECT_EQ(merged, straight);
  const auto values = static_cast<std::uint64_t>(
      std::count_if(inputs.begin(), inputs.end(), [](const Input& in) { return !in.is_event; }));
  EXPECT_EQ(merged.count(), inputs.size());
  EXPECT_EQ(merged.histogram()->count(), values);
}

// merge_serialized() of a histogram-only aggregate's parts is merge() of the aggregate; a
// failure (count overflow, bytes that do not decode) changes nothing.
TEST(WindowAggregateTest, MergeSerializedEqualsMergeOfTheDecodedAggregate) {
  const auto inputs = make_inputs(3000, 11, /*integral=*/false);
  AggregateSpec spec;
  spec.quantiles = true;
  auto parts = aggregate_chunks(inputs, {700, 1, 0, 1299, 1000}, spec);
  WindowAggregate by_object(spec), by_bytes(spec);
  WindowAggregate from_nothing;  // no histogram yet: the first bytes are decoded
  for (const auto& p : parts) {
    ASSERT_TRUE(by_object.merge(p).ok());
    const Bytes h = p.histogram()->serialize();
    ASSERT_TRUE(by_bytes.merge_serialized(p.count(), p.sum(), p.min(), p.max(), h).ok());
    ASSERT_TRUE(from_nothing.merge_serialized(p.count(), p.sum(), p.min(), p.max(), h).ok());
  }
  EXPECT_EQ(by_bytes, by_object);
  EXPECT_EQ(from_nothing, by_object);
  // An event-only part (no histogram bytes) merges its count.
  ASSERT_TRUE(by_bytes.merge_serialized(4, 0, kInf, -kInf, {}).ok());
  EXPECT_EQ(by_bytes.count(), by_object.count() + 4);

  const WindowAggregate before = by_bytes;
  Bytes bad = parts[0].histogram()->serialize();
  bad.pop_back();
  EXPECT_FALSE(by_bytes.merge_serialized(1, 1.0, 1.0, 1.0, bad).ok());
  EXPECT_EQ(by_bytes, before);
  EXPECT_EQ(by_bytes.merge_serialized(std::numeric_limits<std::uint64_t>::max(), 0, kInf, -kInf, {})
                .code(),
            StatusCode::kOutOfRange);
  EXPECT_EQ(by_bytes, before);
}

// count/min/max and the histogram buckets do not depend on merge order or grouping, even where
// the floating-point sum does.
TEST(WindowAggregateTest, MergeIsOrderIndependent) {
  const auto inputs = make_inputs(4000, 11, /*integral=*/false);
  const AggregateSpec spec = all_sketches();
  const auto parts = aggregate_chunks(inputs, {700, 300, 1200, 1, 999, 800}, spec);

  auto merge_in_order = [&](const std::vector<std::size_t>& order) {
    WindowAggregate acc(spec);
    for (std::size_t i : order) EXPECT_TRUE(acc.merge(parts[i]).ok());
    return acc;
  };
  std::vector<std::size_t> order(parts.size());
  std::iota(order.begin(), order.end(), 0);
  const WindowAggregate reference = merge_in_order(order);

  std::mt19937_64 rng(3);
  for (int trial = 0; trial < 10; ++trial) {
    std::shuffle(order.begin(), order.end(), rng);
    // Tree-shaped grouping: ((p0 + p1) + (p2 + p3)) + (p4 + p5) in shuffled order.
    WindowAggregate left = parts[order[0]];
    ASSERT_TRUE(left.merge(parts[order[1]]).ok());
    WindowAggregate mid = parts[order[2]];
    ASSERT_TRUE(mid.merge(parts[order[3]]).ok());
    WindowAggregate right = parts[order[4]];
    ASSERT_TRUE(right.merge(parts[order[5]]).ok());
    ASSERT_TRUE(left.merge(mid).ok());
    ASSERT_TRUE(left.merge(right).ok());
    EXPECT_EQ(left.count(), reference.count());
    EXPECT_EQ(left.min(), reference.min());
    EXPECT_EQ(left.max(), reference.max());
    EXPECT_NEAR(left.sum(), reference.sum(), 1e-9 * std::abs(reference.sum()));
    const ExpHistogram& h = *left.histogram();
    const ExpHistogram& r = *reference.histogram();
    EXPECT_EQ(h.count(), r.count());
    EXPECT_EQ(h.scale(), r.scale());
    EXPECT_EQ(h.zero_count(), r.zero_count());
    EXPECT_EQ(h.positive_offset(), r.positive_offset());
    EXPECT_EQ(h.negative_offset(), r.negative_offset());
    EXPECT_TRUE(std::ranges::equal(h.positive_counts(), r.positive_counts()));
    EXPECT_TRUE(std::ranges::equal(h.negative_counts(), r.negative_counts()));
    for (double phi : {0.0, 0.5, 0.95, 0.99, 1.0}) EXPECT_EQ(h.quantile(phi), r.quantile(phi));
    EXPECT_EQ(*left.distinct(), *reference.distinct());
  }
}

TEST(WindowAggregateTest, SketchPresentOnOneSideIsKept) {
  AggregateSpec with_hist;
  with_hist.quantiles = true;
  WindowAggregate a(with_hist);
  a.add_value(10);
  a.add_value(20);
  WindowAggregate b;  // no sketches
  b.add_value(5);
  b.add_event();

  WindowAggregate ab = a;
  ASSERT_TRUE(ab.merge(b).ok());
  WindowAggregate ba = b;
  ASSERT_TRUE(ba.merge(a).ok());
  EXPECT_EQ(ab, ba);
  ASSERT_NE(ab.histogram(), nullptr);
  EXPECT_EQ(ab.histogram()->count(), 2u);  // only a's values fed the histogram
  EXPECT_EQ(ab.count(), 4u);
  EXPECT_EQ(ab.sum(), 35);
  EXPECT_EQ(ab.min(), 5);
  EXPECT_EQ(ab.max(), 20);
  EXPECT_EQ(ab.distinct(), nullptr);

  AggregateSpec with_topk;
  with_topk.topk = true;
  WindowAggregate c(with_topk);
  c.add_top(hash_key("x"), "x");
  c.add_event();
  ASSERT_TRUE(ab.merge(c).ok());
  ASSERT_NE(ab.topk(), nullptr);
  EXPECT_NE(ab.histogram(), nullptr);
  EXPECT_EQ(ab.topk()->total(), 1u);
}

TEST(WindowAggregateTest, MismatchedSeedsFailAndLeaveAggregateUnchanged) {
  AggregateSpec spec = all_sketches();
  WindowAggregate a(spec);
  a.add_value(1);
  a.add_distinct(hash_key("k"));
  a.add_top(hash_key("k"), "k");
  const WindowAggregate before = a;

  AggregateSpec other_hll = spec;
  other_hll.hll.seed = 42;
  WindowAggregate b(other_hll);
  b.add_value(2);
  Status s = a.merge(b);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.to_string();
  EXPECT_EQ(a, before);

  AggregateSpec other_topk = spec;
  other_topk.topk_options.seed = 42;
  WindowAggregate c(other_topk);
  c.add_value(3);
  s = a.merge(c);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << s.to_string();
  EXPECT_EQ(a, before);

  AggregateSpec other_precision = spec;
  other_precision.hll.precision = 10;
  EXPECT_EQ(a.merge(WindowAggregate(other_precision)).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(a, before);
}

TEST(WindowAggregateTest, SelfMergeDoubles) {
  WindowAggregate a(all_sketches());
  a.add_value(2);
  a.add_value(4);
  a.add_event();
  ASSERT_TRUE(a.merge(a).ok());
  EXPECT_EQ(a.count(), 6u);
  EXPECT_EQ(a.sum(), 12);
  EXPECT_EQ(a.histogram()->count(), 4u);
  EXPECT_EQ(a.min(), 2);
  EXPECT_EQ(a.max(), 4);
}

TEST(WindowAggregateTest, FromPartsRoundTripsParts) {
  WindowAggregate a(all_sketches());
  for (const auto& in : make_inputs(300, 5, false)) feed(a, in);
  auto copy = [](const auto* p) { return std::make_optional(*p); };
  auto rebuilt =
      WindowAggregate::from_parts(a.count(), a.sum(), a.min(), a.max(), copy(a.histogram()),
                                  copy(a.distinct()), copy(a.topk()));
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().to_string();
  EXPECT_EQ(*rebuilt, a);

  auto empty =
      WindowAggregate::from_parts(0, 0, kInf, -kInf, std::nullopt, std::nullopt, std::nullopt);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, WindowAggregate());

  auto events_only =
      WindowAggregate::from_parts(7, 0, kInf, -kInf, std::nullopt, std::nullopt, std::nullopt);
  ASSERT_TRUE(events_only.ok());
  EXPECT_EQ(events_only->count(), 7u);
}

TEST(WindowAggregateTest, FromPartsRejectsInconsistentParts) {
  ExpHistogram h;
  h.add(1);
  h.add(5);
  TopK t;
  t.add("a", 3);
  struct Case {
    const char* what;
    std::uint64_t count;
    double sum, min, max;
    std::optional<ExpHistogram> h;
    std::optional<TopK> t;
  };
  const double nan = std::nan("");
  const std::vector<Case> cases = {
      {"NaN sum", 2, nan, 1, 5, {}, {}},
      {"infinite sum", 2, kInf, 1, 5, {}, {}},
      {"min > max", 2, 6, 5, 1, {}, {}},
      {"NaN min", 2, 6, nan, 5, {}, {}},
      {"finite min, no max", 2, 6, 1, -kInf, {}, {}},
      {"values with count 0", 0, 6, 1, 5, {}, {}},
      {"sum with count 0", 0, 6, kInf, -kInf, {}, {}},
      {"histogram count > count", 1, 6, 1, 5, h, {}},
      {"histogram without values", 2, 0, kInf, -kInf, h, {}},
      {"histogram outside [min, max]", 2, 6, 2, 5, h, {}},
      {"histogram above max", 2, 6, 1, 4, h, {}},
      {"topk total > count", 2, 6, 1, 5, {}, t},
  };
  for (const auto& c : cases) {
    auto r = WindowAggregate::from_parts(c.count, c.sum, c.min, c.max, c.h, std::nullopt, c.t);
    EXPECT_FALSE(r.ok()) << c.what;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.what;
  }
  // The same parts with consistent numbers are accepted.
  EXPECT_TRUE(WindowAggregate::from_parts(3, 6, 1, 5, h, std::nullopt, t).ok());
}

TEST(WindowAggregateTest, MergeRejectsCountOverflow) {
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  auto big =
      WindowAggregate::from_parts(max, 0, kInf, -kInf, std::nullopt, std::nullopt, std::nullopt);
  ASSERT_TRUE(big.ok());
  WindowAggregate one;
  one.add_event();
  const WindowAggregate before = *big;
  EXPECT_EQ(big->merge(one).code(), StatusCode::kOutOfRange);
  EXPECT_EQ(*big, before);
}

}  // namespace
}  // namespace edgesketch::sketch
