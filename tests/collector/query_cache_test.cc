// Tests of RangeQueryCache: extent reuse, invalidation by new data, TTL of fresh extents, LRU
// bound.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "edgesketch/query/range_query_cache.h"

namespace edgesketch::query {
namespace {

constexpr std::int64_t kStep = 60'000;

// A fake evaluation: one series whose value at t is t / step + version.
struct FakeEval {
  int calls = 0;
  double version = 0;
  Result<QueryResult> operator()(std::int64_t start, std::int64_t end) {
    ++calls;
    QueryResult r;
    r.type = ResultType::kMatrix;
    ResultSeries s;
    s.labels = {{"a", "b"}};
    for (std::int64_t t = start; t <= end; t += kStep) {
      s.samples.push_back(Sample{t, static_cast<double>(t / kStep) + version});
    }
    r.series.push_back(s);
    return r;
  }
};

RangeQueryKey key() {
  RangeQueryKey k;
  k.tenant = "acme";
  k.query = "sum(m_count)";
  k.step_ms = kStep;
  k.window_ms = kStep;
  return k;
}

TEST(QueryCache, ReusesClosedExtentsUntilInvalidated) {
  FakeClock clock(1'000'000'000'000);
  RangeQueryCacheOptions o;
  o.steps_per_extent = 10;
  RangeQueryCache cache(o, clock);
  FakeEval ev;
  auto eval = [&](std::int64_t s, std::int64_t e) { return ev(s, e); };
  const std::int64_t start = 600'000'000'000;  // long ago: closed extents
  auto a = cache.query(key(), start, start + 25 * kStep, eval);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->series.size(), 1u);
  EXPECT_EQ(a->series[0].samples.size(), 26u);
  EXPECT_EQ(a->series[0].samples.front().t_ms, start);
  EXPECT_EQ(ev.calls, 1);
  auto b = cache.query(key(), start + 5 * kStep, start + 20 * kStep, eval);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(ev.calls, 1);  // all from the cache
  EXPECT_EQ(b->series[0].samples.size(), 16u);
  EXPECT_EQ(b->series[0].samples[0].value, a->series[0].samples[5].value);

  ev.version = 1000;
  cache.invalidate("other", start, start + 100 * kStep);  // another tenant: no effect
  ASSERT_TRUE(cache.query(key(), start, start + 25 * kStep, eval).ok());
  EXPECT_EQ(ev.calls, 1);
  cache.invalidate("acme", start + 12 * kStep, start + 12 * kStep);
  auto c = cache.query(key(), start, start + 25 * kStep, eval);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(ev.calls, 2);
  EXPECT_EQ(c->series[0].samples[0].value, a->series[0].samples[0].value);  // untouched extent
  EXPECT_EQ(c->series[0].samples[12].value, a->series[0].samples[12].value + 1000);
  EXPECT_EQ(cache.stats().invalidations, 1u);
}

TEST(QueryCache, FreshExtentsExpire) {
  FakeClock clock(1'000'000'000'000);
  RangeQueryCacheOptions o;
  o.steps_per_extent = 10;
  o.fresh_ttl_ms = 5'000;
  RangeQueryCache cache(o, clock);
  FakeEval ev;
  auto eval = [&](std::int64_t s, std::int64_t e) { return ev(s, e); };
  const std::int64_t end = clock.now_ms() / kStep * kStep;
  ASSERT_TRUE(cache.query(key(), end - 5 * kStep, end, eval).ok());
  ASSERT_TRUE(cache.query(key(), end - 5 * kStep, end, eval).ok());
  EXPECT_EQ(ev.calls, 1);
  clock.advance_ms(6'000);
  ASSERT_TRUE(cache.query(key(), end - 5 * kStep, end, eval).ok());
  EXPECT_EQ(ev.calls, 2);
}

TEST(QueryCache, UnalignedQueriesBypassAndBytesAreBounded) {
  FakeClock clock(1'000'000'000'000);
  RangeQueryCacheOptions o;
  o.steps_per_extent = 10;
  o.max_bytes = 4096;
  RangeQueryCache cache(o, clock);
  FakeEval ev;
  auto eval = [&](std::int64_t s, std::int64_t e) { return ev(s, e); };
  ASSERT_TRUE(cache.query(key(), 600'000'000'001, 600'000'600'001, eval).ok());
  EXPECT_EQ(cache.stats().bypassed, 1u);
  for (int i = 0; i < 50; ++i) {
    auto k = key();
    k.query = fmt::format("q{}", i);
    ASSERT_TRUE(cache.query(k, 600'000'000'000, 600'000'000'000 + 9 * kStep, eval).ok());
  }
  const auto s = cache.stats();
  EXPECT_LE(s.bytes, 4096u);
  EXPECT_GT(s.evictions, 0u);
}

}  // namespace
}  // namespace edgesketch::query
