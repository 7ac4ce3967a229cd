// Tests of the query engine over MemorySeriesSource: step semantics, exact sketch merges,
// aggregations, binary operators, extension functions, limits and tenant isolation.
#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <utility>
#include <vector>

#include "collector/query_test_data.h"
#include "edgesketch/query/promql_parser.h"
#include "edgesketch/query/query_engine.h"

namespace edgesketch::query {
namespace {

using testing::kT0;
using testing::kWindowMs;
using testing::kWindows;
using testing::make_window;
using testing::numbered;

class QueryEngineTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::fill_fleet(source_); }

  Result<QueryResult> instant(std::string_view q, std::int64_t t, const QueryLimits& limits = {}) {
    auto e = parse_promql(q);
    EXPECT_TRUE(e.ok()) << e.status().message();
    if (!e.ok()) return e.status();
    return engine_.instant("acme", **e, t, limits);
  }
  Result<QueryResult> range(std::string_view q, std::int64_t start, std::int64_t end,
                            std::int64_t step, std::string_view tenant = "acme") {
    auto e = parse_promql(q);
    EXPECT_TRUE(e.ok()) << e.status().message();
    if (!e.ok()) return e.status();
    return engine_.range(tenant, **e, start, end, step, QueryLimits{});
  }
  // Merge of make_window over the sites/lines/devices accepted by `pick`, windows [w0, w1].
  template <typename Pick>
  sketch::WindowAggregate merged(Pick pick, int w0, int w1) {
    sketch::WindowAggregate acc(testing::full_spec());
    for (int s = 1; s <= 2; ++s)
      for (int l = 1; l <= 2; ++l)
        for (int d = 1; d <= 2; ++d)
          for (int w = w0; w <= w1; ++w)
            if (pick(s, l, d)) {
              EXPECT_TRUE(acc.merge(make_window(s, l, d, w)).ok());
            }
    return acc;
  }

  MemorySeriesSource source_;
  QueryEngine engine_{source_};
  // The end of the last window: every window ends in the lookback (t_last_ − 5 m, t_last_].
  const std::int64_t t_last_ = kT0 + kWindows * kWindowMs;
};

TEST_F(QueryEngineTest, ScalarArithmetic) {
  auto r = instant("1+1", kT0);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->type, ResultType::kScalar);
  ASSERT_EQ(r->series.size(), 1u);
  EXPECT_EQ(r->series[0].samples[0].value, 2);
  EXPECT_EQ(r->series[0].samples[0].t_ms, kT0);
  auto p = instant("2 ^ 3 ^ 2 - -1 * (7 % 4)", kT0);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->series[0].samples[0].value, 512 + 3);
  auto s = instant("\"hello\"", kT0);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->type, ResultType::kString);
  EXPECT_EQ(s->string_value, "hello");
}

TEST_F(QueryEngineTest, HistogramQuantileMergesExactly) {
  auto r = instant("histogram_quantile(0.99, sum by (site) (vibration))", t_last_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->series.size(), 2u);
  for (int s = 1; s <= 2; ++s) {
    const auto& series = r->series[static_cast<std::size_t>(s - 1)];
    EXPECT_EQ(series.labels, (Labels{{"site", numbered("s", s)}}));
    auto want = merged([&](int site, int, int) { return site == s; }, 0, kWindows - 1);
    ASSERT_NE(want.histogram(), nullptr);
    EXPECT_EQ(series.samples[0].value, want.histogram()->quantile(0.99));
  }
  // φ outside [0, 1] as in Prometheus.
  auto lo = instant("histogram_quantile(-1, sum(vibration))", t_last_);
  ASSERT_TRUE(lo.ok());
  EXPECT_EQ(lo->series[0].samples[0].value, -INFINITY);
  auto hi = instant("histogram_quantile(2, sum(vibration))", t_last_);
  ASSERT_TRUE(hi.ok());
  EXPECT_EQ(hi->series[0].samples[0].value, INFINITY);
}

TEST_F(QueryEngineTest, RangePointsMergeTheirStep) {
  // Point t merges the windows ending in (t - 60 s, t]: window w ends at kT0 + (w + 1) * 10 s.
  auto r = range("histogram_quantile(0.5, sum(vibration))", kT0 + 60'000, kT0 + 120'000, 60'000);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->type, ResultType::kMatrix);
  ASSERT_EQ(r->series.size(), 1u);
  EXPECT_TRUE(r->series[0].labels.empty());
  ASSERT_EQ(r->series[0].samples.size(), 2u);
  auto all = [](int, int, int) { return true; };
  EXPECT_EQ(r->series[0].samples[0].t_ms, kT0 + 60'000);
  EXPECT_EQ(r->series[0].samples[0].value, merged(all, 0, 5).histogram()->quantile(0.5));
  EXPECT_EQ(r->series[0].samples[1].t_ms, kT0 + 120'000);
  EXPECT_EQ(r->series[0].samples[1].value, merged(all, 6, 11).histogram()->quantile(0.5));

  // No window ends in (kT0 - 60 s, kT0]: the point at kT0 is absent; the points partition the
  // readings.
  auto c = range("sum(vibration_count)", kT0, kT0 + 120'000, 60'000);
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->series[0].samples.size(), 2u);
  EXPECT_EQ(c->series[0].samples[0].t_ms, kT0 + 60'000);
  EXPECT_EQ(c->series[0].samples[0].value, 8 * 5 * 6);  // windows 0..5
  EXPECT_EQ(c->series[0].samples[1].t_ms, kT0 + 120'000);
  EXPECT_EQ(c->series[0].samples[1].value, 8 * 5 * 6);  // windows 6..11
  // A point between window ends: (kT0 − 5 s, kT0 + 25 s] holds the ends +10 s and +20 s
  // (windows 0 and 1), not window 2, which has data after the point.
  auto off = range("sum(vibration_count)", kT0 + 25'000, kT0 + 25'000, 30'000);
  ASSERT_TRUE(off.ok());
  ASSERT_EQ(off->series.size(), 1u);
  EXPECT_EQ(off->series[0].samples[0].value, 8 * 5 * 2);
}

// The rule exactly (series_source.h, docs/query.md): a window [ws, ws + w) belongs to the point
// at t iff t − width < ws + w <= t.
TEST(QueryEngineRule, PointAtTMergesTheWindowsEndingInItsStep) {
  MemorySeriesSource src;
  const Labels labels{{"__name__", "m"}, {"site", "s1"}};
  for (int i = 0; i < 12; ++i) {  // 10 s windows starting at 0, 10, ..., 110 s; i + 1 readings
    sketch::WindowAggregate agg;
    for (int r = 0; r <= i; ++r) agg.add_value(i);
    ASSERT_TRUE(src.add("acme", labels, i * 10'000, 10'000, agg).ok());
  }
  QueryEngine engine(src);
  using Points = std::vector<std::pair<std::int64_t, double>>;
  auto values = [&](std::string_view q, std::int64_t start, std::int64_t end, std::int64_t step) {
    Points out;
    auto e = parse_promql(q);
    EXPECT_TRUE(e.ok());
    if (!e.ok()) return out;
    auto r = engine.range("acme", **e, start, end, step, {});
    EXPECT_TRUE(r.ok()) << r.status().message();
    if (r.ok() && !r->series.empty()) {
      for (const Sample& s : r->series[0].samples) out.emplace_back(s.t_ms, s.value);
    }
    return out;
  };
  // Step 10 s: the window [0, 10 s) is the point at 10 s, not at 0.
  EXPECT_EQ(values("m_count", 0, 30'000, 10'000), (Points{{10'000, 1}, {20'000, 2}, {30'000, 3}}));
  // Step 60 s: the point at 60 s merges the windows starting at 0..50 s (1 + … + 6 readings),
  // the point at 120 s those starting at 60..110 s.
  EXPECT_EQ(values("m_count", 0, 120'000, 60'000), (Points{{60'000, 21}, {120'000, 57}}));
  // Instant query at t: windows ending in (t − 5 m, t]; a window that has not ended by t is out.
  auto at = [&](std::string_view q, std::int64_t t) -> std::optional<double> {
    auto pe = parse_promql(q);
    EXPECT_TRUE(pe.ok());
    auto r = engine.instant("acme", **pe, t, {});
    EXPECT_TRUE(r.ok()) << r.status().message();
    if (!r.ok() || r->series.empty()) return std::nullopt;
    return r->series[0].samples[0].value;
  };
  EXPECT_EQ(at("m_count", 0), std::nullopt);
  EXPECT_EQ(at("m_count", 9'999), std::nullopt);
  EXPECT_EQ(at("m_count", 10'000), 1);
  EXPECT_EQ(at("m_count", 15'000), 1);
  EXPECT_EQ(at("m_count[10s]", 30'000), 3);      // only the window [20 s, 30 s)
  EXPECT_EQ(at("m_count[20s]", 30'000), 2 + 3);  // windows ending at 20 s and 30 s
  EXPECT_EQ(at("m_max[1m]", 120'000), 11);       // windows ending in (60 s, 120 s]
  EXPECT_EQ(at("m_min[1m]", 120'000), 6);
  // m[d] in a range query: each point merges d / step consecutive steps.
  EXPECT_EQ(values("m_count[20s]", 10'000, 30'000, 10'000),
            (Points{{10'000, 1}, {20'000, 1 + 2}, {30'000, 2 + 3}}));
  // Metadata ranges mean "windows with data in [start, end]": [0, 10 s) holds 0..9999 ms.
  auto sel = parse_series_selector("m_count");
  ASSERT_TRUE(sel.ok());
  auto inside = src.series("acme", {}, 9'999, 9'999, 10);
  ASSERT_TRUE(inside.ok());
  EXPECT_EQ(inside->size(), 1u);
  auto after = src.series("acme", {}, 120'000, 200'000, 10);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->empty());
  auto before = src.series("acme", {}, -100'000, -1, 10);
  ASSERT_TRUE(before.ok());
  EXPECT_TRUE(before->empty());
  // The sketch table merges the windows ending in (start, end].
  auto rows = engine.sketch_table("acme", *sel, 10'000, 30'000, {}, 1, {});
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].count, 2u + 3u);
}

TEST_F(QueryEngineTest, RangeSelectorMergesConsecutiveSteps) {
  auto a = range("sum(vibration_count[1m])", kT0 + 60'000, kT0 + 120'000, 30'000);
  auto b = range("sum(vibration_count)", kT0 + 60'000, kT0 + 120'000, 60'000);
  ASSERT_TRUE(a.ok()) << a.status().message();
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(a->series[0].samples.size(), 3u);
  EXPECT_EQ(a->series[0].samples[0].value, b->series[0].samples[0].value);
  EXPECT_EQ(a->series[0].samples[2].value, b->series[0].samples[1].value);
  auto bad = range("sum(vibration_count[45s])", kT0, kT0 + 60'000, 30'000);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("multiple of the query step"), std::string::npos);
  // Instant: the range replaces the lookback.
  auto i = instant("sum(vibration_count[20s])", t_last_);
  ASSERT_TRUE(i.ok());
  EXPECT_EQ(i->series[0].samples[0].value, 8 * 5 * 2);
}

TEST_F(QueryEngineTest, AggregationsByAndWithout) {
  auto by = instant("sum by (site) (vibration_count)", t_last_);
  ASSERT_TRUE(by.ok());
  ASSERT_EQ(by->series.size(), 2u);
  EXPECT_EQ(by->series[0].labels, (Labels{{"site", "s1"}}));
  EXPECT_EQ(by->series[0].samples[0].value, 4 * 5 * kWindows);

  auto without = instant("max without (device) (vibration_max)", t_last_);
  ASSERT_TRUE(without.ok());
  ASSERT_EQ(without->series.size(), 4u);
  EXPECT_EQ(without->series[3].labels, (Labels{{"line", "l2"}, {"site", "s2"}}));
  EXPECT_EQ(without->series[3].samples[0].value,
            merged([](int s, int l, int) { return s == 2 && l == 2; }, 0, kWindows - 1).max());

  auto mn = instant("min(vibration_min)", t_last_);
  ASSERT_TRUE(mn.ok());
  EXPECT_EQ(mn->series[0].samples[0].value, (100 + 10 + 1) * 1.5);
  auto cnt = instant("count by (line) (vibration_count)", t_last_);
  ASSERT_TRUE(cnt.ok());
  EXPECT_EQ(cnt->series[0].samples[0].value, 4);
  auto avg = instant("avg(vibration_count)", t_last_);
  ASSERT_TRUE(avg.ok());
  EXPECT_EQ(avg->series[0].samples[0].value, 5 * kWindows);
  auto count_sketch = instant("count(vibration)", t_last_);
  ASSERT_TRUE(count_sketch.ok());
  EXPECT_EQ(count_sketch->series[0].samples[0].value, 8);
}

TEST_F(QueryEngineTest, BinaryOperators) {
  auto mean = instant("sum(vibration_sum) / sum(vibration_count)", t_last_);
  ASSERT_TRUE(mean.ok()) << mean.status().message();
  auto all = merged([](int, int, int) { return true; }, 0, kWindows - 1);
  EXPECT_DOUBLE_EQ(mean->series[0].samples[0].value, all.sum() / static_cast<double>(all.count()));

  auto scaled = instant("vibration_count{site=\"s1\", line=\"l1\"} * 2", t_last_);
  ASSERT_TRUE(scaled.ok());
  ASSERT_EQ(scaled->series.size(), 2u);
  EXPECT_EQ(scaled->series[0].labels,
            (Labels{{"device", "d1"}, {"line", "l1"}, {"site", "s1"}}));  // __name__ dropped
  EXPECT_EQ(scaled->series[0].samples[0].value, 2 * 5 * kWindows);

  auto per_series = instant("vibration_sum / vibration_count", t_last_);
  ASSERT_TRUE(per_series.ok());
  EXPECT_EQ(per_series->series.size(), 8u);

  auto on =
      instant("sum by (site) (vibration_sum) / on (site) sum by (site) (vibration_count)", t_last_);
  ASSERT_TRUE(on.ok());
  ASSERT_EQ(on->series.size(), 2u);
  EXPECT_EQ(on->series[0].labels, (Labels{{"site", "s1"}}));

  auto ignoring = instant(
      "sum by (site, line) (vibration_count) - ignoring (line) sum by (site) (vibration_count)",
      t_last_);
  ASSERT_FALSE(ignoring.ok());
  EXPECT_NE(ignoring.status().message().find("multiple matches for labels"), std::string::npos);

  auto dup = instant("sum by (site) (vibration_count) - on (site) vibration_count", t_last_);
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("found duplicate series"), std::string::npos);

  auto neg = instant("-sum(vibration_count)", t_last_);
  ASSERT_TRUE(neg.ok());
  EXPECT_EQ(neg->series[0].samples[0].value, -8 * 5 * kWindows);
}

TEST_F(QueryEngineTest, DistinctCountAndTopkItems) {
  auto d = instant("distinct_count(sum by (site) (vibration))", t_last_);
  ASSERT_TRUE(d.ok()) << d.status().message();
  ASSERT_EQ(d->series.size(), 2u);
  auto s1 = merged([](int s, int, int) { return s == 1; }, 0, kWindows - 1);
  EXPECT_EQ(d->series[0].samples[0].value, s1.distinct()->estimate());

  auto t = instant("topk_items(2, sum(vibration))", t_last_);
  ASSERT_TRUE(t.ok()) << t.status().message();
  auto all = merged([](int, int, int) { return true; }, 0, kWindows - 1);
  const auto top = all.topk()->top(2);
  ASSERT_EQ(t->series.size(), 2u);
  for (const auto& item : top) {
    bool found = false;
    for (const auto& s : t->series) {
      if (label_value(s.labels, "item") == item.key) {
        found = true;
        EXPECT_EQ(s.samples[0].value, static_cast<double>(item.count));
      }
    }
    EXPECT_TRUE(found) << item.key;
  }
  EXPECT_FALSE(instant("topk_items(0, vibration)", t_last_).ok());
  EXPECT_FALSE(instant("topk_items(1.5, vibration)", t_last_).ok());
}

// A sketch-valued result returns the histograms of its points (the HTTP API writes them as
// native histograms); what the data model does not define stays an error.
TEST_F(QueryEngineTest, SketchResultsAreHistograms) {
  auto one = instant("vibration{site=\"s1\", line=\"l2\", device=\"d1\"}", t_last_);
  ASSERT_TRUE(one.ok()) << one.status().message();
  EXPECT_EQ(one->type, ResultType::kVector);
  ASSERT_EQ(one->series.size(), 1u);
  EXPECT_EQ(one->series[0].labels, testing::device_labels(1, 2, 1));
  EXPECT_TRUE(one->series[0].samples.empty());
  ASSERT_EQ(one->series[0].histograms.size(), 1u);
  EXPECT_EQ(one->series[0].histograms[0].t_ms, t_last_);
  auto d121 = [](int s, int l, int d) { return s == 1 && l == 2 && d == 1; };
  EXPECT_EQ(one->series[0].histograms[0].histogram, *merged(d121, 0, kWindows - 1).histogram());

  // A range query: per site, each point the merge of the windows ending in its step.
  auto r = range("sum by (site) (vibration)", kT0, kT0 + 120'000, 60'000);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->type, ResultType::kMatrix);
  ASSERT_EQ(r->series.size(), 2u);
  for (int s = 1; s <= 2; ++s) {
    const auto& series = r->series[static_cast<std::size_t>(s - 1)];
    EXPECT_EQ(series.labels, (Labels{{"site", numbered("s", s)}}));
    ASSERT_EQ(series.histograms.size(), 2u);  // nothing ends in (kT0 − 60 s, kT0]
    auto site = [s](int site, int, int) { return site == s; };
    EXPECT_EQ(series.histograms[0].t_ms, kT0 + 60'000);
    EXPECT_EQ(series.histograms[0].histogram, *merged(site, 0, 5).histogram());
    EXPECT_EQ(series.histograms[1].t_ms, kT0 + 120'000);
    EXPECT_EQ(series.histograms[1].histogram, *merged(site, 6, 11).histogram());
  }

  // Sketches pass through set operators, offset, @ and label_replace.
  auto all = [](int, int, int) { return true; };
  const auto whole = *merged(all, 0, kWindows - 1).histogram();
  for (const char* q : {"sum(vibration)", "sum(nothing) or sum(vibration)",
                        "sum(vibration @ end())", "sum(vibration and vibration_max > 0)",
                        "sum(label_replace(vibration, \"x\", \"y\", \"\", \"\"))"}) {
    auto h = instant(q, t_last_);
    ASSERT_TRUE(h.ok()) << q << ": " << h.status().message();
    ASSERT_EQ(h->series.size(), 1u) << q;
    ASSERT_EQ(h->series[0].histograms.size(), 1u) << q;
    EXPECT_EQ(h->series[0].histograms[0].histogram, whole) << q;
  }
  auto later = instant("sum(vibration offset 1m)", t_last_ + 60'000);
  ASSERT_TRUE(later.ok());
  ASSERT_EQ(later->series.size(), 1u);
  EXPECT_EQ(later->series[0].histograms[0].histogram, whole);

  // Sketches without a histogram have nothing to return.
  auto no_hist = engine_.instant("other", **parse_promql("secret"), t_last_, {});
  ASSERT_FALSE(no_hist.ok());
  EXPECT_EQ(no_hist.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(no_hist.status().message().find("secret_count"), std::string::npos)
      << no_hist.status().message();

  EXPECT_FALSE(instant("vibration + 1", t_last_).ok());
  EXPECT_FALSE(instant("max(vibration)", t_last_).ok());
  EXPECT_FALSE(instant("histogram_quantile(0.5, vibration_count)", t_last_).ok());
  // Empty selections are fine everywhere.
  auto empty = instant("histogram_quantile(0.5, nothing)", t_last_);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->series.empty());
  for (const char* q : {"vibration and vibration_max > 1e9", "nothing", "sum(nothing)"}) {
    auto none = instant(q, t_last_);
    ASSERT_TRUE(none.ok()) << q << ": " << none.status().message();
    EXPECT_TRUE(none->series.empty()) << q;
  }
}

// The buckets of a returned histogram count as samples against the samples limit.
TEST_F(QueryEngineTest, HistogramBucketsCountAsSamples) {
  auto r = instant("vibration", t_last_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  std::size_t buckets = 0;
  for (const auto& s : r->series) {
    const auto& h = s.histograms.at(0).histogram;
    buckets += h.positive_counts().size() + h.negative_counts().size() + 1;
  }
  const std::size_t scanned = r->series.size();  // one step point per series
  QueryLimits enough;
  enough.max_points = scanned + buckets;
  EXPECT_TRUE(instant("vibration", t_last_, enough).ok());
  QueryLimits short_by_one = enough;
  short_by_one.max_points -= 1;
  auto over = instant("vibration", t_last_, short_by_one);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), StatusCode::kResourceExhausted);
}

TEST_F(QueryEngineTest, NameMatchersSeeAllViews) {
  auto r = instant("{__name__=~\"vibration_(min|max)\", site=\"s1\", line=\"l1\", device=\"d1\"}",
                   t_last_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  ASSERT_EQ(r->series.size(), 2u);
  EXPECT_EQ(label_value(r->series[0].labels, "__name__"), "vibration_max");
  EXPECT_EQ(label_value(r->series[1].labels, "__name__"), "vibration_min");
  auto mixed = instant("{__name__=~\"vibration.*\"}", t_last_);
  EXPECT_FALSE(mixed.ok());
}

TEST_F(QueryEngineTest, TenantsAreIsolated) {
  auto e = parse_promql("secret_count");
  ASSERT_TRUE(e.ok());
  auto mine = engine_.instant("acme", **e, t_last_, {});
  ASSERT_TRUE(mine.ok());
  EXPECT_TRUE(mine->series.empty());
  auto theirs = engine_.instant("other", **e, t_last_, {});
  ASSERT_TRUE(theirs.ok());
  EXPECT_EQ(theirs->series.size(), 1u);
  auto names = engine_.label_values("acme", "__name__", {}, kMinTimeMs, kMaxTimeMs);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"vibration", "vibration_count", "vibration_max",
                                              "vibration_min", "vibration_sum"}));
}

TEST_F(QueryEngineTest, LimitsAreEnforced) {
  auto series = instant("sum(vibration_count)", t_last_, QueryLimits{3, 1'000'000});
  ASSERT_FALSE(series.ok());
  EXPECT_EQ(series.status().code(), StatusCode::kResourceExhausted);
  // 8 series, one point each: 8 samples loaded (merged per group inside the source).
  auto points = instant("sum(vibration_count)", t_last_, QueryLimits{100, 7});
  ASSERT_FALSE(points.ok());
  EXPECT_EQ(points.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(points.status().message().find("too many samples"), std::string::npos);
  EXPECT_TRUE(instant("sum(vibration_count)", t_last_, QueryLimits{100, 9}).ok());
}

TEST_F(QueryEngineTest, SeriesAndLabels) {
  auto sel = parse_series_selector("vibration_count{site=\"s2\", line=\"l1\"}");
  ASSERT_TRUE(sel.ok());
  auto s = engine_.series("acme", {*sel}, kMinTimeMs, kMaxTimeMs, 100);
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ(
      (*s)[0],
      (Labels{{"__name__", "vibration_count"}, {"device", "d1"}, {"line", "l1"}, {"site", "s2"}}));
  auto names = engine_.label_names("acme", {}, kMinTimeMs, kMaxTimeMs);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"__name__", "device", "line", "site"}));
  auto values = engine_.label_values("acme", "site", {*sel}, kMinTimeMs, kMaxTimeMs);
  ASSERT_TRUE(values.ok());
  EXPECT_EQ(*values, (std::vector<std::string>{"s2"}));
  auto limited = engine_.series("acme", {*sel}, kMinTimeMs, kMaxTimeMs, 1);
  EXPECT_FALSE(limited.ok());
}

TEST_F(QueryEngineTest, SketchTable) {
  auto sel = parse_series_selector("vibration{line=\"l1\"}");
  ASSERT_TRUE(sel.ok());
  // Windows ending in (kT0, t_last_]: all of them (window 0 ends at kT0 + 10 s).
  auto rows = engine_.sketch_table("acme", *sel, kT0, t_last_, {"site"}, 3, {});
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 2u);
  auto want = merged([](int s, int l, int) { return s == 1 && l == 1; }, 0, kWindows - 1);
  const SketchRow& r = (*rows)[0];
  EXPECT_EQ(r.group, (Labels{{"site", "s1"}}));
  EXPECT_EQ(r.count, want.count());
  EXPECT_EQ(*r.p99, want.histogram()->quantile(0.99));
  EXPECT_EQ(*r.distinct, want.distinct()->estimate());
  EXPECT_EQ(r.top, want.topk()->top(3));
}

}  // namespace
}  // namespace edgesketch::query
