// ClickHouseSeriesSource against the engine's reference, MemorySeriesSource, on the same random
// batches: a real ClickHouse server holds them through BatchWriter (some batches written twice,
// as redeliveries), the memory source holds each record once, and every scan, series and label
// call must give the same answer — series, step points and aggregates (scalars and sketches).
#include "edgesketch/clickhouse/series_source.h"

#include <gtest/gtest.h>

#include <random>

#include "collector/clickhouse/clickhouse_fixture.h"
#include "collector/store_test_util.h"
#include "edgesketch/clickhouse/batch_writer.h"
#include "edgesketch/query/memory_series_source.h"
#include "edgesketch/testbed/clickhouse_server.h"

namespace edgesketch::clickhouse {
namespace {

using store::testing::kNowMs;
using store::testing::make_batch;

query::Labels labels_of(const wire::SeriesKey& key) {
  query::Labels labels{{std::string(query::kMetricNameLabel), key.metric}};
  for (const wire::Tag& t : key.tags) labels.push_back({t.key, t.value});
  query::sort_labels(labels);
  return labels;
}

query::LabelMatcher matcher(const std::string& name, query::MatchOp op, const std::string& v) {
  auto m = query::LabelMatcher::make(name, op, v);
  EXPECT_TRUE(m.ok());
  return *m;
}

class ClickHouseSeriesSourceTest : public testing::ClickHouseTest {
 protected:
  void SetUp() override {
    testing::ClickHouseTest::SetUp();
    if (HasFatalFailure()) return;
    BatchWriter writer(*client_, schema_);
    std::mt19937_64 rng(2026);
    for (std::uint64_t seq = 1; seq <= 12; ++seq) {
      wire::WindowBatch b = make_batch(rng, "gw-" + std::to_string(seq % 2), seq, 40, 7, 18,
                                       /*sketches=*/seq % 3 != 0);
      for (std::size_t i = 0; i < b.records.size(); i += 5) b.records[i].key.metric = "temp";
      ASSERT_TRUE(writer.write("t1", b, kNowMs).ok());
      if (seq % 4 == 0) {
        ASSERT_TRUE(writer.write("t1", b, kNowMs).ok());  // a redelivery
      }
      for (const wire::WindowRecord& r : b.records) {
        ASSERT_TRUE(
            memory_.add("t1", labels_of(r.key), r.window_start_ms, r.window_ms, r.agg).ok());
      }
    }
    // Another tenant's data must stay invisible.
    wire::WindowBatch other = make_batch(rng, "gw-x", 1, 10, 3, 2);
    ASSERT_TRUE(writer.write("t2", other, kNowMs).ok());
    source_ =
        std::make_unique<ClickHouseSeriesSource>(ClientOptions{.url = server_.url()}, schema_);
  }

  void expect_same_scan(const query::ScanRequest& req, const std::string& what) {
    auto want = memory_.scan("t1", req);
    auto got = source_->scan("t1", req);
    ASSERT_TRUE(want.ok()) << what << ": " << want.status().to_string();
    ASSERT_TRUE(got.ok()) << what << ": " << got.status().to_string();
    ASSERT_EQ(got->size(), want->size()) << what;
    for (std::size_t i = 0; i < want->size(); ++i) {
      const query::SeriesRows& w = (*want)[i];
      const query::SeriesRows& g = (*got)[i];
      ASSERT_EQ(g.labels, w.labels) << what << " series " << i;
      ASSERT_EQ(g.points.size(), w.points.size()) << what << " series " << i;
      for (std::size_t p = 0; p < w.points.size(); ++p) {
        EXPECT_EQ(g.points[p].t_ms, w.points[p].t_ms) << what << " " << i << "/" << p;
        EXPECT_TRUE(g.points[p].agg == w.points[p].agg)
            << what << " series " << i << " point " << p << ": count " << g.points[p].agg.count()
            << " vs " << w.points[p].agg.count() << ", sum " << g.points[p].agg.sum() << " vs "
            << w.points[p].agg.sum();
      }
    }
  }

  query::MemorySeriesSource memory_;
  std::unique_ptr<ClickHouseSeriesSource> source_;
};

TEST_F(ClickHouseSeriesSourceTest, ScansEqualTheReference) {
  using query::MatchOp;
  const std::int64_t first = (kNowMs / 10'000 - 18) * 10'000;
  const std::vector<std::vector<query::LabelMatcher>> selectors = {
      {matcher("__name__", MatchOp::kEqual, "vibration")},
      {matcher("__name__", MatchOp::kRegexMatch, "vib.*|temp")},
      {matcher("device", MatchOp::kRegexMatch, "dev-[12]")},
      {matcher("__name__", MatchOp::kEqual, "temp"), matcher("site", MatchOp::kNotEqual, "site-0")},
      {matcher("device", MatchOp::kRegexNoMatch, "dev-3|dev-4")},
      {matcher("line", MatchOp::kEqual, ""), matcher("site", MatchOp::kEqual, "site-1")},
      {matcher("device", MatchOp::kEqual, "dev-99")},
  };
  struct Range {
    std::int64_t start, end, step;
  };
  const std::vector<Range> ranges = {
      {first, kNowMs, 10'000},           // one window per point
      {first + 60'000, kNowMs, 60'000},  // six per point
      {first - 7'000, kNowMs + 5'000, 25'000},
      {first + 30'000, first + 30'000, 30'000},  // one point
  };
  std::vector<query::ScanFields> fields(3);
  fields[1].histogram = true;
  fields[2].distinct = true;
  fields[2].topk = true;
  int n = 0;
  for (std::size_t s = 0; s < selectors.size(); ++s) {
    for (const Range& r : ranges) {
      for (std::size_t f = 0; f < fields.size(); ++f) {
        query::ScanRequest req;
        req.matchers = selectors[s];
        req.start_ms = r.start;
        req.end_ms = r.end;
        req.step_ms = r.step;
        req.fields = fields[f];
        expect_same_scan(req, "selector " + std::to_string(s) + " step " + std::to_string(r.step) +
                                  " fields " + std::to_string(f));
        req.group = query::ScanGrouping{.without = false, .labels = {"site"}};
        expect_same_scan(req, "by (site), selector " + std::to_string(s));
        req.group = query::ScanGrouping{.without = true, .labels = {"device"}};
        expect_same_scan(req, "without (device), selector " + std::to_string(s));
        n += 3;
      }
    }
  }
  EXPECT_EQ(n, 252);
}

TEST_F(ClickHouseSeriesSourceTest, SeriesAndLabelsEqualTheReference) {
  using query::MatchOp;
  for (const auto& selector : std::vector<std::vector<query::LabelMatcher>>{
           {},
           {matcher("__name__", MatchOp::kEqual, "temp")},
           {matcher("site", MatchOp::kRegexMatch, "site-[01]")}}) {
    auto want = memory_.series("t1", selector, query::kMinTimeMs, query::kMaxTimeMs, 1000);
    auto got = source_->series("t1", selector, query::kMinTimeMs, query::kMaxTimeMs, 1000);
    ASSERT_TRUE(want.ok() && got.ok());
    EXPECT_EQ(*got, *want);
    auto want_names = memory_.label_names("t1", selector, query::kMinTimeMs, query::kMaxTimeMs);
    auto got_names = source_->label_names("t1", selector, query::kMinTimeMs, query::kMaxTimeMs);
    ASSERT_TRUE(want_names.ok() && got_names.ok());
    EXPECT_EQ(*got_names, *want_names);
    for (const char* name : {"__name__", "device", "site", "absent"}) {
      auto w = memory_.label_values("t1", name, selector, query::kMinTimeMs, query::kMaxTimeMs);
      auto g = source_->label_values("t1", name, selector, query::kMinTimeMs, query::kMaxTimeMs);
      ASSERT_TRUE(w.ok() && g.ok());
      EXPECT_EQ(*g, *w) << name;
    }
  }
  auto other = source_->series("t2", {}, query::kMinTimeMs, query::kMaxTimeMs, 1000);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->empty());
  auto none = source_->series("t3", {}, query::kMinTimeMs, query::kMaxTimeMs, 1000);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(ClickHouseSeriesSourceTest, LimitsAreKept) {
  query::ScanRequest req;
  req.matchers = {matcher("__name__", query::MatchOp::kRegexMatch, ".+")};
  req.start_ms = kNowMs - 200'000;
  req.end_ms = kNowMs;
  req.step_ms = 10'000;
  req.max_series = 3;
  auto series = source_->scan("t1", req);
  ASSERT_FALSE(series.ok());
  EXPECT_EQ(series.status().code(), StatusCode::kResourceExhausted);
  req.max_series = 1000;
  req.max_points = 5;
  auto points = source_->scan("t1", req);
  ASSERT_FALSE(points.ok());
  EXPECT_EQ(points.status().code(), StatusCode::kResourceExhausted);
  auto listed = source_->series("t1", req.matchers, query::kMinTimeMs, query::kMaxTimeMs, 2);
  ASSERT_FALSE(listed.ok());
  EXPECT_EQ(listed.status().code(), StatusCode::kResourceExhausted);
}

TEST(ClickHouseMatcherSqlTest, EveryOperatorAndQuoting) {
  using query::MatchOp;
  std::vector<query::LabelMatcher> m = {
      matcher("__name__", MatchOp::kEqual, "vib'ration"),
      matcher("site", MatchOp::kNotEqual, "a\\b"),
      matcher("device", MatchOp::kRegexMatch, "dev-.*"),
      matcher("line", MatchOp::kRegexNoMatch, "x|y"),
  };
  EXPECT_EQ(ClickHouseSeriesSource::matcher_sql(m),
            "1 AND metric = 'vib\\'ration'"
            " AND label_values[indexOf(label_names, 'site')] != 'a\\\\b'"
            " AND match(label_values[indexOf(label_names, 'device')], '^(?:dev-.*)$')"
            " AND NOT match(label_values[indexOf(label_names, 'line')], '^(?:x|y)$')");
}

}  // namespace
}  // namespace edgesketch::clickhouse
