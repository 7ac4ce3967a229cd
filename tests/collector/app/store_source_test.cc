// The query engine over the collector's store (StoreSeriesSource) answers exactly as over the
// in-memory reference source, including the aggregations the store merges per group while it
// scans (sum/min/max by|without over one selector), and those merged answers equal the
// per-series evaluation.
#include <gtest/gtest.h>

#include <algorithm>

#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/store_source.h"
#include "collector/query_test_data.h"
#include "collector/store_test_util.h"
#include "edgesketch/common/clock.h"
#include "edgesketch/query/memory_series_source.h"
#include "edgesketch/query/promql_parser.h"
#include "edgesketch/query/query_engine.h"
#include "edgesketch/store/store.h"
#include "edgesketch/wire/codec.h"
#include "edgesketch/wire/compression.h"

namespace edgesketch::collector {
namespace {

using query::testing::device_labels;
using query::testing::kT0;
using query::testing::kWindowMs;
using query::testing::kWindows;
using query::testing::make_window;
using query::testing::numbered;

// Param: with label rollups ({site} and {line, site}, configured before the data arrived) or
// without.
class StoreSourceTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    query::testing::fill_fleet(memory_);
    // Opened two hours before the data, so the rollups are complete for all of it.
    clock_.set_now_ms(kT0 - 2 * 3'600'000);
    open_store();
    clock_.set_now_ms(kT0 + kWindows * kWindowMs + 60'000);
    ingest_fleet();
    source_ = std::make_unique<StoreSeriesSource>(*store_);
    store_engine_ = std::make_unique<query::QueryEngine>(*source_);
  }

  void open_store() {
    store_.reset();
    store::StoreOptions o;
    o.clock = &clock_;
    o.background_merge = false;
    if (GetParam()) o.rollups = {{"site"}, {"site", "line"}};
    if (dense_bytes_) o.scan_dense_bytes = *dense_bytes_;
    // Small blocks and three scan threads even for this small fleet: every scan here reads its
    // blocks in parallel and merges the threads' grids (a series' and a group's cells split
    // between threads).
    o.block_rows = 7;
    o.scan_threads = 3;
    o.scan_parallel_min_rows = 0;
    auto st = store::Store::open(dir_.path() + "/store", o);
    ASSERT_TRUE(st.ok()) << st.status().to_string();
    store_ = std::move(st).value();
  }

  void ingest_fleet() {
    // The same fleet as fill_fleet's tenant "acme", in two batches (one flushed into parts, one
    // left in the memtable, so scans read both).
    for (int half = 0; half < 2; ++half) {
      wire::WindowBatch b;
      b.gateway_id = "gw";
      b.seq = static_cast<std::uint64_t>(half + 1);
      b.created_ms = kT0;
      for (int s = 1; s <= 2; ++s)
        for (int l = 1; l <= 2; ++l)
          for (int d = 1; d <= 2; ++d)
            for (int w = half * kWindows / 2; w < (half + 1) * kWindows / 2; ++w) {
              wire::WindowRecord r;
              r.key.metric = "vibration";
              r.key.tags = {{"device", numbered("d", d)},
                            {"line", numbered("l", l)},
                            {"site", numbered("s", s)}};
              r.window_start_ms = kT0 + w * kWindowMs;
              r.window_ms = static_cast<std::uint32_t>(kWindowMs);
              r.distinct_of = "key";
              r.topk_of = "label";
              r.agg = make_window(s, l, d, w);
              b.records.push_back(std::move(r));
            }
      // The second half arrives compressed (as agents send it) and stays in the WAL only.
      Bytes payload = wire::encode_window_batch(b);
      if (half == 1) payload = wire::compress_window_batch(payload);
      auto receipt = store_->ingest("acme", payload);
      ASSERT_TRUE(receipt.ok()) << receipt.status().to_string();
      if (half == 0) {
        ASSERT_TRUE(store_->flush().ok());
      }
    }
  }

  static Result<query::QueryResult> run(const query::QueryEngine& engine, std::string_view q,
                                        std::int64_t start, std::int64_t end, std::int64_t step,
                                        const query::QueryLimits& limits = {}) {
    auto e = query::parse_promql(q);
    EXPECT_TRUE(e.ok()) << q << ": " << e.status().message();
    if (!e.ok()) return e.status();
    return engine.range("acme", **e, start, end, step, limits);
  }

  static void expect_same(const query::QueryResult& a, const query::QueryResult& b,
                          std::string_view what) {
    ASSERT_EQ(a.series.size(), b.series.size()) << what;
    for (std::size_t i = 0; i < a.series.size(); ++i) {
      EXPECT_EQ(a.series[i].labels, b.series[i].labels) << what;
      ASSERT_EQ(a.series[i].samples.size(), b.series[i].samples.size()) << what;
      for (std::size_t k = 0; k < a.series[i].samples.size(); ++k) {
        const auto& x = a.series[i].samples[k];
        const auto& y = b.series[i].samples[k];
        EXPECT_EQ(x.t_ms, y.t_ms) << what;
        // Sums may differ by floating-point rounding (merge order); everything else is exact.
        EXPECT_NEAR(x.value, y.value, 1e-12 * std::max(1.0, std::abs(y.value)))
            << what << " at " << x.t_ms;
      }
      ASSERT_EQ(a.series[i].histograms.size(), b.series[i].histograms.size()) << what;
      for (std::size_t k = 0; k < a.series[i].histograms.size(); ++k) {
        const auto& x = a.series[i].histograms[k];
        const auto& y = b.series[i].histograms[k];
        EXPECT_EQ(x.t_ms, y.t_ms) << what;
        EXPECT_EQ(x.histogram.count(), y.histogram.count()) << what << " at " << x.t_ms;
        EXPECT_EQ(x.histogram.scale(), y.histogram.scale()) << what << " at " << x.t_ms;
        EXPECT_EQ(x.histogram.zero_count(), y.histogram.zero_count()) << what;
        EXPECT_EQ(x.histogram.positive_offset(), y.histogram.positive_offset()) << what;
        EXPECT_TRUE(
            std::ranges::equal(x.histogram.positive_counts(), y.histogram.positive_counts()))
            << what << " at " << x.t_ms;
        EXPECT_EQ(x.histogram.negative_offset(), y.histogram.negative_offset()) << what;
        EXPECT_TRUE(
            std::ranges::equal(x.histogram.negative_counts(), y.histogram.negative_counts()))
            << what << " at " << x.t_ms;
        EXPECT_NEAR(x.histogram.sum(), y.histogram.sum(),
                    1e-12 * std::max(1.0, std::abs(y.histogram.sum())))
            << what << " at " << x.t_ms;
      }
    }
  }

  store::testing::TempDir dir_;
  std::optional<std::size_t> dense_bytes_;
  FakeClock clock_{kT0};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<StoreSeriesSource> source_;
  std::unique_ptr<query::QueryEngine> store_engine_;
  query::MemorySeriesSource memory_;
  query::QueryEngine memory_engine_{memory_};
};

const char* const kQueries[] = {
    "histogram_quantile(0.9, sum by (site) (vibration))",
    "histogram_quantile(0.5, sum(vibration))",
    "histogram_quantile(0.99, sum without (device) (vibration))",
    "distinct_count(sum by (line) (vibration))",
    "topk_items(3, sum(vibration))",
    "max by (site) (vibration_max)",
    "min by (site, line) (vibration_min)",
    "min without (device) (vibration_min)",
    "sum by (site) (vibration_count)",
    "sum by (site) (vibration_sum) / sum by (site) (vibration_count)",
    "sum(vibration_count{device=~\"d1|d2\", site!=\"s2\"})",
    "max by (line) (vibration_max{line=~\"l.*\"})",
    "count by (site) (vibration_count)",
    "avg by (site) (vibration_max)",
    "max by (site) (vibration_count)",
    "vibration_max{site=\"s1\", device=\"d2\"}",
    "sum by (site) (vibration_count[30s])",
    // Sketch-valued results: the merged histograms.
    "sum by (site) (vibration)",
    "vibration{site=\"s1\", line=\"l2\"}",
    "sum without (device) (vibration[30s])",
};

TEST_P(StoreSourceTest, AnswersEqualTheReferenceSource) {
  const std::int64_t end = kT0 + kWindows * kWindowMs;
  for (const std::int64_t step : {kWindowMs, 3 * kWindowMs, 6 * kWindowMs}) {
    for (const char* q : kQueries) {
      if (std::string_view(q).find("[30s]") != std::string_view::npos && step > 3 * kWindowMs)
        continue;  // a range must be a multiple of the step
      auto want = run(memory_engine_, q, kT0, end, step);
      auto got = run(*store_engine_, q, kT0, end, step);
      ASSERT_TRUE(want.ok()) << q << ": " << want.status().to_string();
      ASSERT_TRUE(got.ok()) << q << ": " << got.status().to_string();
      ASSERT_FALSE(want->series.empty()) << q;
      expect_same(*got, *want, std::string(q) + " step " + std::to_string(step));
    }
  }
}

TEST_P(StoreSourceTest, GroupMergedWhileScanningEqualsPerSeriesAggregation) {
  // `* 1` makes the engine aggregate series by series; without it the store merges the groups.
  const char* const pairs[][2] = {
      {"max by (site) (vibration_max)", "max by (site) (vibration_max * 1)"},
      {"min without (device) (vibration_min)", "min without (device) (vibration_min * 1)"},
      {"sum by (line) (vibration_count)", "sum by (line) (vibration_count * 1)"},
      {"sum(vibration_sum)", "sum(vibration_sum * 1)"},
  };
  const std::int64_t end = kT0 + kWindows * kWindowMs;
  for (const auto& [merged, per_series] : pairs) {
    auto a = run(*store_engine_, merged, kT0, end, 2 * kWindowMs);
    auto b = run(*store_engine_, per_series, kT0, end, 2 * kWindowMs);
    ASSERT_TRUE(a.ok() && b.ok()) << merged;
    expect_same(*a, *b, merged);
  }
}

TEST_P(StoreSourceTest, SeriesLimitCountsSelectedSeriesNotGroups) {
  // By device: no rollup answers it, so the scan selects all 8 series into 8 groups... and by
  // line through `without`, also without a rollup: 8 series into 4 groups.
  for (const char* q :
       {"max by (device) (vibration_max)", "max without (device, site) (vibration_max)"}) {
    query::QueryLimits limits;
    limits.max_series = 7;
    auto r = run(*store_engine_, q, kT0, kT0 + 60'000, kWindowMs, limits);
    ASSERT_FALSE(r.ok()) << q;
    EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
    limits.max_series = 8;
    EXPECT_TRUE(run(*store_engine_, q, kT0, kT0 + 60'000, kWindowMs, limits).ok()) << q;
  }
}

TEST_P(StoreSourceTest, StoreScanMergesGroupsAndSkipsUnwantedSketches) {
  auto all = store_->select("acme", {});
  ASSERT_TRUE(all.ok());
  std::erase_if(
      *all, [](const store::SeriesInfo& i) { return i.key.tags.front().key == store::kRollupTag; });
  ASSERT_EQ(all->size(), 8u);
  store::ScanRequest req;
  req.tenant = "acme";
  req.start_ms = kT0;
  req.end_ms = kT0 + kWindows * kWindowMs + 1;
  req.step_ms = 6 * kWindowMs;
  std::vector<std::uint64_t> ids;
  for (const auto& info : *all) ids.push_back(info.id);
  req.series_ids = ids;
  // Group by site.
  for (const auto& info : *all) {
    const auto& tags = info.key.tags;
    const bool s2 = std::any_of(tags.begin(), tags.end(), [](const wire::Tag& t) {
      return t.key == "site" && t.value == "s2";
    });
    req.group_of.push_back(s2 ? 1 : 0);
  }
  req.distinct = false;
  req.topk = false;
  auto r = store_->scan(req);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->series.size(), 2u);
  for (const auto& g : r->series) {
    const int site = static_cast<int>(g.series_id) + 1;
    for (const auto& p : g.points) {
      // The point at t merges the windows ending in (t - 60 s, t].
      sketch::WindowAggregate want(query::testing::full_spec());
      for (int w = 0; w < kWindows; ++w) {
        const std::int64_t wend = kT0 + (w + 1) * kWindowMs;
        if (wend <= p.t_ms - req.step_ms || wend > p.t_ms) continue;
        for (int l = 1; l <= 2; ++l)
          for (int d = 1; d <= 2; ++d) ASSERT_TRUE(want.merge(make_window(site, l, d, w)).ok());
      }
      EXPECT_EQ(p.agg.count(), want.count());
      EXPECT_EQ(p.agg.min(), want.min());
      EXPECT_EQ(p.agg.max(), want.max());
      ASSERT_NE(p.agg.histogram(), nullptr);
      EXPECT_EQ(*p.agg.histogram(), *want.histogram());
      EXPECT_EQ(p.agg.distinct(), nullptr);
      EXPECT_EQ(p.agg.topk(), nullptr);
    }
  }
  // Inconsistent requests are refused.
  req.group_of.pop_back();
  EXPECT_EQ(store_->scan(req).status().code(), StatusCode::kInvalidArgument);
  req.group_of.clear();
  std::swap(req.series_ids->front(), req.series_ids->back());
  EXPECT_EQ(store_->scan(req).status().code(), StatusCode::kInvalidArgument);
}

// A scan asked for a quantile returns it instead of the histogram: the merged histogram's
// quantile bit for bit, whether its cells hold one row (copied bytes), several in dense buckets,
// or (with no dense budget) several merged in runs; rows from parts and the memtable alike.
TEST_P(StoreSourceTest, StoreScanQuantileEqualsTheMergedHistograms) {
  for (const std::size_t budget : {std::size_t{0}, std::size_t{64} << 20}) {
    dense_bytes_ = budget;
    open_store();  // replays the memtable's half from the WAL
    auto all = store_->select("acme", {});
    ASSERT_TRUE(all.ok());
    std::erase_if(*all, [](const store::SeriesInfo& i) {
      return i.key.tags.front().key == store::kRollupTag;
    });
    ASSERT_EQ(all->size(), 8u);
    for (const bool grouped : {false, true}) {
      for (const std::int64_t step : {kWindowMs, 6 * kWindowMs}) {
        for (const double phi : {0.0, 0.3, 0.5, 0.9, 0.99, 1.0}) {
          store::ScanRequest req;
          req.tenant = "acme";
          req.start_ms = kT0;
          req.end_ms = kT0 + kWindows * kWindowMs + 1;
          req.step_ms = step;
          req.distinct = false;
          req.topk = false;
          std::vector<std::uint64_t> ids;
          for (const auto& info : *all) ids.push_back(info.id);
          req.series_ids = ids;
          if (grouped) {
            for (const auto& info : *all) {
              const auto& tags = info.key.tags;
              req.group_of.push_back(std::any_of(tags.begin(), tags.end(), [](const wire::Tag& t) {
                return t.key == "site" && t.value == "s2";
              }));
            }
          }
          auto whole = store_->scan(req);
          req.quantile = phi;
          auto q = store_->scan(req);
          ASSERT_TRUE(whole.ok() && q.ok());
          ASSERT_EQ(whole->series.size(), q->series.size());
          std::size_t compared = 0;
          for (std::size_t s = 0; s < q->series.size(); ++s) {
            ASSERT_EQ(whole->series[s].points.size(), q->series[s].points.size());
            for (std::size_t k = 0; k < q->series[s].points.size(); ++k) {
              const auto& a = q->series[s].points[k];
              const auto& b = whole->series[s].points[k];
              EXPECT_EQ(a.agg.histogram(), nullptr);
              EXPECT_EQ(a.agg.count(), b.agg.count());
              ASSERT_NE(b.agg.histogram(), nullptr);
              ASSERT_TRUE(a.quantile.has_value());
              EXPECT_EQ(*a.quantile, b.agg.histogram()->quantile(phi))
                  << "budget " << budget << " grouped " << grouped << " step " << step << " phi "
                  << phi << " point " << a.t_ms;
              ++compared;
            }
          }
          EXPECT_GT(compared, 0u);
        }
      }
    }
  }
  store::ScanRequest bad;
  bad.tenant = "acme";
  bad.start_ms = kT0;
  bad.end_ms = kT0 + kWindowMs;
  bad.step_ms = kWindowMs;
  bad.quantile = 1.5;
  EXPECT_EQ(store_->scan(bad).status().code(), StatusCode::kInvalidArgument);
}

// A step that a coarse tier divides but points that are not on its boundaries (an instant query
// at 12:34:56 with a 1 m lookback): the scan reads a tier whose rows partition the intervals.
TEST_P(StoreSourceTest, PointsOffTheCoarseTierBoundariesReadAFinerTier) {
  store::ScanRequest req;
  req.tenant = "acme";
  req.start_ms = kT0 + 30'000;  // not a minute boundary
  req.end_ms = kT0 + kWindows * kWindowMs + 30'001;
  req.step_ms = 60'000;
  auto chosen = store_->scan(req);
  req.tier_ms = 10'000;
  auto fine = store_->scan(req);
  ASSERT_TRUE(chosen.ok() && fine.ok());
  EXPECT_EQ(chosen->tier_ms, 10'000u);
  ASSERT_EQ(chosen->series.size(), fine->series.size());
  for (std::size_t i = 0; i < fine->series.size(); ++i) {
    ASSERT_EQ(chosen->series[i].points.size(), fine->series[i].points.size());
    for (std::size_t k = 0; k < fine->series[i].points.size(); ++k) {
      EXPECT_EQ(chosen->series[i].points[k].agg.count(), fine->series[i].points[k].agg.count());
    }
  }
  req.tier_ms.reset();
  req.start_ms = kT0;
  auto aligned = store_->scan(req);
  ASSERT_TRUE(aligned.ok());
  EXPECT_EQ(aligned->tier_ms, 60'000u);
}

INSTANTIATE_TEST_SUITE_P(Rollups, StoreSourceTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "on" : "off"; });

// Which series a grouped scan reads: the rollup's (one per site) when one answers it, the
// stored series otherwise; rollup series never show up as series of their own.
TEST_P(StoreSourceTest, GroupedScansReadRollupSeriesWhenTheyAnswer) {
  auto selected = [&](const std::string& by, const std::string& matcher_label = "",
                      bool without = false, std::int64_t start = kT0) {
    query::ScanRequest req;
    req.matchers.push_back(
        *query::LabelMatcher::make("__name__", query::MatchOp::kEqual, "vibration"));
    if (!matcher_label.empty()) {
      req.matchers.push_back(
          *query::LabelMatcher::make(matcher_label, query::MatchOp::kRegexMatch, ".+"));
    }
    req.start_ms = start;
    req.end_ms = kT0 + kWindows * kWindowMs;
    req.step_ms = 60'000;
    req.group = query::ScanGrouping{without, {by}};
    query::ScanRequest::Stats stats;
    req.stats = &stats;
    auto rows = source_->scan("acme", req);
    EXPECT_TRUE(rows.ok()) << rows.status().to_string();
    return stats.series;
  };
  const bool on = GetParam();
  EXPECT_EQ(selected("site"), on ? 2u : 8u);          // rollup {site}
  EXPECT_EQ(selected("line"), on ? 4u : 8u);          // rollup {line, site}
  EXPECT_EQ(selected("site", "line"), on ? 4u : 8u);  // a matcher on line: {line, site}
  EXPECT_EQ(selected("site", "device"), 8u);          // a matcher on device: no rollup
  EXPECT_EQ(selected("device"), 8u);                  // grouping by device: no rollup
  EXPECT_EQ(selected("device", "", /*without=*/true), 8u);
  // Before the rollups were complete (opened at kT0 - 2 h, rounded up to the hour).
  EXPECT_EQ(selected("site", "", false, kT0 - 3 * 3'600'000), 8u);

  auto series = source_->series("acme", {}, query::kMinTimeMs, query::kMaxTimeMs, 1000);
  ASSERT_TRUE(series.ok());
  EXPECT_EQ(series->size(), 8u);
  auto names = source_->label_names("acme", {}, query::kMinTimeMs, query::kMaxTimeMs);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(std::count(names->begin(), names->end(), store::kRollupTag), 0);
  EXPECT_EQ(store_->stats().series, on ? 8u + 2u + 4u : 8u);
}

// After a restart that replays the WAL, and after a flush, the rollups still give the answers
// of the stored series; the time they are complete from survives restarts.
TEST_P(StoreSourceTest, RollupsSurviveReplayAndKeepTheirStart) {
  const std::vector<store::RollupInfo> before = store_->rollups();
  source_.reset();
  store_engine_.reset();
  open_store();  // the second half is in the WAL only
  source_ = std::make_unique<StoreSeriesSource>(*store_);
  store_engine_ = std::make_unique<query::QueryEngine>(*source_);
  const std::vector<store::RollupInfo> after = store_->rollups();
  ASSERT_EQ(after.size(), GetParam() ? 2u : 0u);
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].name, before[i].name);
    EXPECT_EQ(after[i].since_ms, before[i].since_ms);
    EXPECT_LE(after[i].since_ms, kT0 - 60'000);
  }
  const std::int64_t end = kT0 + kWindows * kWindowMs;
  for (const char* q : kQueries) {
    if (std::string_view(q).find("[30s]") != std::string_view::npos) continue;
    auto want = run(memory_engine_, q, kT0, end, 60'000);
    auto got = run(*store_engine_, q, kT0, end, 60'000);
    ASSERT_TRUE(want.ok() && got.ok()) << q;
    expect_same(*got, *want, q);
  }
}

TEST(StoreRollupTest, ReservedTagsAreRejectedAndNewRollupsStartAfterTheData) {
  store::testing::TempDir dir;
  FakeClock clock(kT0 + 3'600'000);
  store::StoreOptions o;
  o.clock = &clock;
  o.background_merge = false;
  {
    auto st = store::Store::open(dir.path() + "/s", o);
    ASSERT_TRUE(st.ok());
    wire::WindowBatch b;
    b.gateway_id = "gw";
    b.seq = 1;
    b.created_ms = kT0;
    wire::WindowRecord r;
    r.key.metric = "m";
    r.key.tags = {{"__rollup__", "site"}, {"site", "s1"}};
    r.window_start_ms = kT0;
    r.window_ms = 10'000;
    r.agg.add_value(1);
    b.records.push_back(r);
    auto receipt = (*st)->ingest("t", wire::encode_window_batch(b));
    ASSERT_FALSE(receipt.ok());
    EXPECT_NE(receipt.status().message().find("reserved"), std::string::npos);
    b.records[0].key.tags = {{"site", "s1"}};
    ASSERT_TRUE((*st)->ingest("t", wire::encode_window_batch(b)).ok());
  }
  // Configured later: complete only from the end of the stored data (and now), rounded up to
  // the coarsest tier.
  o.rollups = {{"site"}};
  auto st = store::Store::open(dir.path() + "/s", o);
  ASSERT_TRUE(st.ok());
  ASSERT_EQ((*st)->rollups().size(), 1u);
  EXPECT_EQ((*st)->rollups()[0].since_ms, (kT0 + 3'600'000) / 3'600'000 * 3'600'000 + 3'600'000);
  // A bad set is refused with its name.
  o.rollups = {{"site"}, {"__name__"}};
  st.value().reset();
  EXPECT_FALSE(store::Store::open(dir.path() + "/s", o).ok());
}

// Query limits are enforced while the store scans: a query over the points limit is refused
// once the scan has read about the limit's worth of rows, not after reading everything; one over
// the series limit is refused before anything is read.
class ScanLimitTest : public ::testing::Test {
 protected:
  static constexpr int kSeries = 40;
  static constexpr int kSteps = 250;  // 10 s windows: kSeries x kSteps = 10,000 rows
  static constexpr std::size_t kBlockRows = 64;
  static constexpr std::size_t kThreads = 2;

  void SetUp() override {
    store::StoreOptions o;
    o.clock = &clock_;
    o.background_merge = false;
    o.block_rows = kBlockRows;
    o.scan_threads = kThreads;
    o.scan_parallel_min_rows = 0;
    auto st = store::Store::open(dir_.path() + "/store", o);
    ASSERT_TRUE(st.ok()) << st.status().to_string();
    store_ = std::move(st).value();
    wire::WindowBatch b;
    b.gateway_id = "gw";
    b.created_ms = kT0;
    for (int w = 0; w < kSteps; ++w) {
      for (int d = 0; d < kSeries; ++d) {
        wire::WindowRecord r;
        r.key.metric = "vibration";
        r.key.tags = {{"device", numbered("d", d)}, {"site", numbered("s", d % 4)}};
        r.window_start_ms = kT0 + w * kWindowMs;
        r.window_ms = static_cast<std::uint32_t>(kWindowMs);
        r.distinct_of = "key";
        r.topk_of = "label";
        r.agg = make_window(1, 1, d, w);
        b.records.push_back(std::move(r));
      }
      if (b.records.size() >= 2000 || w == kSteps - 1) {
        ++b.seq;
        auto receipt = store_->ingest("acme", wire::encode_window_batch(b));
        ASSERT_TRUE(receipt.ok()) << receipt.status().to_string();
        b.records.clear();
      }
    }
    ASSERT_TRUE(store_->flush().ok());
    source_ = std::make_unique<StoreSeriesSource>(*store_);
  }

  query::ScanRequest request(std::size_t max_series, std::size_t max_points) {
    query::ScanRequest req;
    req.matchers.push_back(
        query::LabelMatcher::make("__name__", query::MatchOp::kEqual, "vibration").value());
    req.start_ms = kT0 + kWindowMs;
    req.end_ms = kT0 + kSteps * kWindowMs;
    req.step_ms = kWindowMs;
    req.max_series = max_series;
    req.max_points = max_points;
    req.stats = &stats_;
    return req;
  }

  store::testing::TempDir dir_;
  FakeClock clock_{kT0 + kSteps * kWindowMs + 60'000};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<StoreSeriesSource> source_;
  query::ScanRequest::Stats stats_;
};

TEST_F(ScanLimitTest, WithinTheLimitsEverythingIsRead) {
  auto rows = source_->scan("acme", request(kSeries, kSeries * kSteps));
  ASSERT_TRUE(rows.ok()) << rows.status().to_string();
  EXPECT_EQ(rows->size(), std::size_t{kSeries});
  EXPECT_EQ(stats_.points, std::size_t{kSeries * kSteps});
}

TEST_F(ScanLimitTest, PointsLimitStopsTheScanWhileReading) {
  constexpr std::size_t kLimit = 500;
  auto rows = source_->scan("acme", request(kSeries, kLimit));
  ASSERT_FALSE(rows.ok());
  EXPECT_EQ(rows.status().code(), StatusCode::kResourceExhausted);
  // Over the limit, by at most the block each scan thread was reading: far from all 10,000.
  EXPECT_GT(stats_.points, kLimit);
  EXPECT_LE(stats_.points, kLimit + kThreads * kBlockRows);

  // The store's own scan says the same, and read only the blocks it needed.
  store::ScanRequest s;
  s.tenant = "acme";
  s.matchers = {{"__name__", store::LabelMatcher::Op::kEqual, "vibration"}};
  s.start_ms = kT0 + kWindowMs;
  s.end_ms = kT0 + kSteps * kWindowMs + 1;
  s.step_ms = kWindowMs;
  s.max_rows = kLimit;
  auto r = store_->scan(s);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(r->rows_limit_exceeded);
  EXPECT_TRUE(r->series.empty());
  EXPECT_LE(r->rows_read, kLimit + kThreads * kBlockRows);
  EXPECT_LE(r->blocks_read, kLimit / kBlockRows + 1 + kThreads);
  s.max_rows = kSeries * kSteps;
  auto all = store_->scan(s);
  ASSERT_TRUE(all.ok());
  EXPECT_FALSE(all->rows_limit_exceeded);
  EXPECT_EQ(all->rows_read, std::uint64_t{kSeries * kSteps});
  EXPECT_GT(all->blocks_read, 10 * r->blocks_read);
}

TEST_F(ScanLimitTest, SeriesLimitIsCheckedBeforeReading) {
  auto rows = source_->scan("acme", request(kSeries - 1, kSeries * kSteps));
  ASSERT_FALSE(rows.ok());
  EXPECT_EQ(rows.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(stats_.points, 0u);
}

TEST_F(ScanLimitTest, EngineAnswersTooManySamples) {
  query::QueryEngine engine(*source_);
  auto e = query::parse_promql("sum by (site) (vibration_count)");
  ASSERT_TRUE(e.ok());
  query::QueryLimits limits;
  limits.max_points = 1000;
  auto r = engine.range("acme", **e, kT0 + kWindowMs, kT0 + kSteps * kWindowMs, kWindowMs, limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("too many samples"), std::string::npos)
      << r.status().message();
}

}  // namespace
}  // namespace edgesketch::collector
