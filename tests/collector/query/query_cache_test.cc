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
  // A 10 s window ending at point 12 feeds only the extent of points 10..19.
  cache.invalidate("acme", start + 12 * kStep - 10'000, start + 12 * kStep);
  auto c = cache.query(key(), start, start + 25 * kStep, eval);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(ev.calls, 2);
  EXPECT_EQ(c->series[0].samples[0].value, a->series[0].samples[0].value);  // untouched extent
  EXPECT_EQ(c->series[0].samples[12].value, a->series[0].samples[12].value + 1000);
  EXPECT_EQ(cache.stats().invalidations, 1u);
}

// Extents are fed by the windows ENDING in (first point − window_ms, last point]: a window that
// starts at the last point of an extent feeds the next one.
TEST(QueryCache, InvalidationFollowsWindowEnds) {
  FakeClock clock(1'000'000'000'000);
  RangeQueryCacheOptions o;
  o.steps_per_extent = 10;
  const std::int64_t start = 600'000'000'000;       // a multiple of 10 steps; extents closed
  const std::int64_t boundary = start + 9 * kStep;  // last point of extent 0
  struct Case {
    const char* what;
    std::int64_t tier_ms, lo, hi;
    bool extent0, extent1;  // dropped?
  };
  const Case cases[] = {
      {"window ending at the last point", 0, boundary - 10'000, boundary, true, false},
      {"window starting at the last point", 0, boundary, boundary + 10'000, false, true},
      {"window ending one step after", 0, boundary + 50'000, boundary + kStep, false, true},
      {"batch spanning the boundary", 0, boundary - 10'000, boundary + 10'000, true, true},
      {"empty range", 0, boundary, boundary, false, false},
      {"window before the first point's data", 0, start - kStep - 10'000, start - kStep, false,
       false},
      {"1 ms window feeding the first point", 0, start - kStep, start - kStep + 1, true, false},
      // A 60 s tier row rolling up [boundary, boundary + 10 s) is [boundary, boundary + 60 s).
      {"tier row after the boundary", kStep, boundary, boundary + 10'000, false, true},
      // Rows of a tier are not assumed aligned: a row overlapping [lo, hi) may end as late as
      // hi + tier − 1, which here reaches into extent 1 (a harmless extra invalidation).
      {"tier row before the boundary", kStep, boundary - kStep, boundary - 50'000, true, true},
      {"tier row well before the boundary", kStep, boundary - 2 * kStep, boundary - kStep, true,
       false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    RangeQueryCache cache(o, clock);
    FakeEval ev;
    auto eval = [&](std::int64_t s, std::int64_t e) { return ev(s, e); };
    RangeQueryKey k = key();
    k.tier_ms = c.tier_ms;
    ASSERT_TRUE(cache.query(k, start, start + 19 * kStep, eval).ok());
    cache.invalidate("acme", c.lo, c.hi);
    ev.calls = 0;
    ASSERT_TRUE(cache.query(k, start, start + 9 * kStep, eval).ok());
    EXPECT_EQ(ev.calls, c.extent0 ? 1 : 0);
    ev.calls = 0;
    ASSERT_TRUE(cache.query(k, start + 10 * kStep, start + 19 * kStep, eval).ok());
    EXPECT_EQ(ev.calls, c.extent1 ? 1 : 0);
  }
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

// Whole rendered responses live exactly as long as the extents they were made of: until new
// data for their range, or the expiry of a fresh extent.
TEST(QueryCache, RenderedResponsesFollowTheirExtents) {
  FakeClock clock(1'000'000'000'000);
  RangeQueryCacheOptions o;
  o.steps_per_extent = 10;
  o.fresh_ttl_ms = 5'000;
  RangeQueryCache cache(o, clock);
  FakeEval ev;
  int renders = 0;
  auto eval = [&](std::int64_t s, std::int64_t e) { return ev(s, e); };
  auto render = [&](const QueryResult& r) {
    ++renders;
    return RangeQueryCache::Rendered{
        fmt::format("{}@{}", r.series[0].samples.size(), r.series[0].samples[0].value), ""};
  };
  const std::int64_t start = 600'000'000'000;  // closed extents
  auto a = cache.query_rendered(key(), start, start + 25 * kStep, eval, render);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ((*a)->body, "26@10000000");
  auto b = cache.query_rendered(key(), start, start + 25 * kStep, eval, render);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->get(), a->get());  // the same stored bytes
  EXPECT_EQ(renders, 1);
  EXPECT_EQ(cache.stats().rendered_hits, 1u);
  // Data outside its range: still served. Inside: rendered again from fresh values.
  cache.invalidate("acme", start + 40 * kStep, start + 41 * kStep);
  ASSERT_TRUE(cache.query_rendered(key(), start, start + 25 * kStep, eval, render).ok());
  EXPECT_EQ(renders, 1);
  ev.version = 1000;
  cache.invalidate("acme", start - 10'000, start);
  auto c = cache.query_rendered(key(), start, start + 25 * kStep, eval, render);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->body, "26@10001000");
  EXPECT_EQ(renders, 2);
  // A response that includes a fresh extent expires with it.
  const std::int64_t end = clock.now_ms() / kStep * kStep;
  ASSERT_TRUE(cache.query_rendered(key(), end - 5 * kStep, end, eval, render).ok());
  ASSERT_TRUE(cache.query_rendered(key(), end - 5 * kStep, end, eval, render).ok());
  EXPECT_EQ(renders, 3);
  clock.advance_ms(6'000);
  ASSERT_TRUE(cache.query_rendered(key(), end - 5 * kStep, end, eval, render).ok());
  EXPECT_EQ(renders, 4);
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

// Histogram series (sketch-valued results) are cut into extents and assembled like float series.
TEST(QueryCache, HistogramSeriesAreCachedLikeFloats) {
  FakeClock clock(1'000'000'000'000);
  RangeQueryCacheOptions o;
  o.steps_per_extent = 10;
  RangeQueryCache cache(o, clock);
  // Two series of histograms: at t, `a` holds the value t / step once, `b` twice.
  int calls = 0;
  auto histogram_at = [](std::int64_t t, std::uint64_t n) {
    sketch::ExpHistogram h;
    h.add(static_cast<double>(t / kStep), n);
    return h;
  };
  auto eval = [&](std::int64_t start, std::int64_t end) -> Result<QueryResult> {
    ++calls;
    QueryResult r;
    r.type = ResultType::kMatrix;
    for (std::uint64_t n : {1, 2}) {
      ResultSeries s;
      s.labels = {{"a", n == 1 ? "a" : "b"}};
      for (std::int64_t t = start; t <= end; t += kStep) {
        s.histograms.push_back(HistogramSample{t, histogram_at(t, n)});
      }
      r.series.push_back(std::move(s));
    }
    return r;
  };
  const std::int64_t start = 600'000'000'000;
  auto first = cache.query(key(), start + 3 * kStep, start + 25 * kStep, eval);
  ASSERT_TRUE(first.ok());
  auto again = cache.query(key(), start + 5 * kStep, start + 20 * kStep, eval);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(calls, 1);  // the second from the cache
  for (const QueryResult* r : {&*first, &*again}) {
    const std::int64_t lo = r == &*first ? start + 3 * kStep : start + 5 * kStep;
    const std::int64_t hi = r == &*first ? start + 25 * kStep : start + 20 * kStep;
    ASSERT_EQ(r->series.size(), 2u);
    for (std::uint64_t n : {1, 2}) {
      const ResultSeries& s = r->series[n - 1];
      EXPECT_TRUE(s.samples.empty());
      ASSERT_EQ(s.histograms.size(), static_cast<std::size_t>((hi - lo) / kStep + 1));
      for (std::size_t i = 0; i < s.histograms.size(); ++i) {
        const std::int64_t t = lo + static_cast<std::int64_t>(i) * kStep;
        EXPECT_EQ(s.histograms[i].t_ms, t);
        EXPECT_EQ(s.histograms[i].histogram, histogram_at(t, n));
      }
    }
  }
  // The cache's byte estimate counts the histograms.
  EXPECT_GT(cache.stats().bytes, 3u * 2 * 10 * sizeof(sketch::ExpHistogram));
}

}  // namespace
}  // namespace edgesketch::query
