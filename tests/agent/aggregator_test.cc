// The aggregator's windowing rules on hand-made readings: watermark close, lateness and delta
// records, idle close on a fake clock, clock sanity, journal positions, batching and reloads.
#include "window/aggregator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <vector>

#include "edgesketch/common/clock.h"

namespace edgesketch::agent {
namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;  // a multiple of 10 s

wire::Reading value_reading(std::string device, std::string metric, std::int64_t ts, double v,
                            std::vector<wire::Tag> tags = {}) {
  wire::Reading r;
  r.device_id = std::move(device);
  r.metric = std::move(metric);
  r.tags = std::move(tags);
  r.ts_ms = ts;
  r.value = v;
  return r;
}

wire::Reading label_reading(std::string device, std::string metric, std::int64_t ts,
                            std::string label, std::vector<wire::Tag> tags = {}) {
  wire::Reading r = value_reading(std::move(device), std::move(metric), ts, 0, std::move(tags));
  r.label = std::move(label);
  r.is_label = true;
  return r;
}

// "d7"; spelled out because GCC 12 warns (-Wrestrict, a false positive) on "d" + to_string().
std::string numbered(std::string_view prefix, int i) {
  std::string s(prefix);
  s += std::to_string(i);
  return s;
}

class AggregatorTest : public ::testing::Test {
 protected:
  std::unique_ptr<Aggregator> make(std::vector<RuleSpec> rules = {}, WindowOptions window = {}) {
    AggregatorOptions o;
    o.tenant = "t1";
    o.gateway_id = "gw1";
    o.rules = std::move(rules);
    o.window = window;
    o.clock = &clock_;
    auto a = Aggregator::create(std::move(o));
    EXPECT_TRUE(a.ok()) << a.status().to_string();
    return std::move(a).value();
  }

  static std::vector<wire::WindowRecord> records(ClosedBatches b) {
    std::vector<wire::WindowRecord> out;
    for (auto& batch : b.batches) {
      EXPECT_EQ(batch.gateway_id, "gw1");
      EXPECT_EQ(batch.tenant, "t1");
      for (auto& r : batch.records) out.push_back(std::move(r));
    }
    return out;
  }

  FakeClock clock_{kT0 + 1000};
};

TEST_F(AggregatorTest, DefaultRuleClosesWindowWhenWatermarkPasses) {
  auto a = make();
  std::vector<wire::Reading> rs = {value_reading("d1", "temp", kT0 + 100, 1.5),
                                   value_reading("d1", "temp", kT0 + 9'000, 2.5),
                                   value_reading("d1", "temp", kT0 + 9'999, -1.0)};
  a->add(rs);
  EXPECT_FALSE(a->has_pending());
  // 10 s + 5 s lateness: a reading at 15 s closes [0, 10 s).
  std::vector<wire::Reading> later = {value_reading("d1", "temp", kT0 + 14'999, 3)};
  a->add(later);
  EXPECT_FALSE(a->has_pending());
  later[0].ts_ms = kT0 + 15'000;
  a->add(later);
  ASSERT_TRUE(a->has_pending());
  auto recs = records(a->take_batches());
  ASSERT_EQ(recs.size(), 1u);
  const wire::WindowRecord& r = recs[0];
  EXPECT_EQ(r.key.metric, "temp");
  ASSERT_EQ(r.key.tags.size(), 1u);
  EXPECT_EQ(r.key.tags[0], (wire::Tag{"device", "d1"}));
  EXPECT_EQ(r.window_start_ms, kT0);
  EXPECT_EQ(r.window_ms, 10'000u);
  EXPECT_FALSE(r.delta);
  EXPECT_EQ(r.agg.count(), 3u);
  EXPECT_DOUBLE_EQ(r.agg.sum(), 3.0);
  EXPECT_EQ(r.agg.min(), -1.0);
  EXPECT_EQ(r.agg.max(), 2.5);
  ASSERT_NE(r.agg.histogram(), nullptr);
  EXPECT_EQ(r.agg.histogram()->count(), 3u);
  EXPECT_EQ(r.agg.distinct(), nullptr);
  EXPECT_TRUE(r.distinct_of.empty());
  AggregatorStats s = a->stats();
  EXPECT_EQ(s.readings, 5u);
  EXPECT_EQ(s.accepted, 5u);
  EXPECT_EQ(s.windows_closed, 1u);
  EXPECT_EQ(s.open_windows, 1u);
}

TEST_F(AggregatorTest, OutputNamesTheRuleSeries) {
  auto a = make({RuleSpec{.name = "per-device", .group_by = {"device"}},
                 RuleSpec{.name = "by-line",
                          .match = "vibration",
                          .group_by = {"line"},
                          .output = "vibration_by_line"}});
  const std::vector<wire::Tag> tags = {{"line", "l1"}};
  std::vector<wire::Reading> rs = {value_reading("d1", "vibration", kT0 + 1, 1, tags),
                                   value_reading("d2", "vibration", kT0 + 2, 2, tags)};
  a->add(rs);
  a->flush_all();
  std::map<std::string, std::uint64_t> counts;
  for (const wire::WindowRecord& r : records(a->take_batches()))
    counts[r.key.metric] += r.agg.count();
  EXPECT_EQ(counts,
            (std::map<std::string, std::uint64_t>{{"vibration", 2}, {"vibration_by_line", 2}}));
  RuleSpec bad{.name = "bad", .output = "a{b}"};
  EXPECT_FALSE(validate_rule(bad, wire::Limits{}).ok());
}

TEST_F(AggregatorTest, LateReadingBecomesDeltaRecord) {
  WindowOptions w;
  w.allowed_lateness_ms = 2'000;
  w.delta_hold_ms = 3'000;
  auto a = make({}, w);
  std::vector<wire::Reading> rs = {value_reading("d1", "m", kT0 + 1'000, 1),
                                   value_reading("d1", "m", kT0 + 12'000, 2)};
  a->add(rs);
  auto first = records(a->take_batches());
  ASSERT_EQ(first.size(), 1u);
  EXPECT_FALSE(first[0].delta);
  // Two late readings for the closed window: one delta record once the hold passes.
  std::vector<wire::Reading> late = {value_reading("d1", "m", kT0 + 5'000, 10),
                                     value_reading("d1", "m", kT0 + 6'000, 20)};
  a->add(late);
  EXPECT_EQ(a->stats().late_readings, 2u);
  a->poll();
  EXPECT_FALSE(a->has_pending());
  clock_.advance_ms(3'000);
  a->poll();
  auto deltas = records(a->take_batches());
  ASSERT_EQ(deltas.size(), 1u);
  EXPECT_TRUE(deltas[0].delta);
  EXPECT_EQ(deltas[0].window_start_ms, kT0);
  EXPECT_EQ(deltas[0].agg.count(), 2u);
  EXPECT_DOUBLE_EQ(deltas[0].agg.sum(), 30.0);
  EXPECT_EQ(a->stats().deltas_closed, 1u);
  // The open window [10 s, 20 s) is untouched.
  EXPECT_EQ(a->stats().open_windows, 1u);
}

TEST_F(AggregatorTest, ReadingWithinLatenessStillJoinsItsWindow) {
  auto a = make();
  std::vector<wire::Reading> rs = {value_reading("d1", "m", kT0 + 12'000, 1),
                                   value_reading("d1", "m", kT0 + 9'000, 2)};
  a->add(rs);
  a->flush_all();
  auto recs = records(a->take_batches());
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].window_start_ms, kT0);
  EXPECT_FALSE(recs[0].delta);
  EXPECT_FALSE(recs[1].delta);
  EXPECT_EQ(a->stats().late_readings, 0u);
}

TEST_F(AggregatorTest, IdleSeriesClosesOnWallClock) {
  WindowOptions w;
  w.idle_timeout_ms = 30'000;
  auto a = make({}, w);
  std::vector<wire::Reading> rs = {value_reading("d1", "m", kT0 + 1'000, 1)};
  a->add(rs);
  clock_.advance_ms(29'999);
  a->poll();
  EXPECT_FALSE(a->has_pending());
  clock_.advance_ms(1);
  a->poll();
  auto recs = records(a->take_batches());
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_FALSE(recs[0].delta);
  // A straggler for the idle-closed window is a delta, not a second first version.
  rs[0].ts_ms = kT0 + 2'000;
  a->add(rs);
  a->flush_all();
  recs = records(a->take_batches());
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_TRUE(recs[0].delta);
}

TEST_F(AggregatorTest, IdleTimeoutNeverShorterThanWindowPlusLateness) {
  WindowOptions w;
  w.idle_timeout_ms = 1'000;
  w.allowed_lateness_ms = 5'000;
  auto a = make({RuleSpec{.name = "minute", .window_ms = 60'000}}, w);
  std::vector<wire::Reading> rs = {value_reading("d1", "m", kT0 + 1'000, 1)};
  a->add(rs);
  clock_.advance_ms(64'999);
  a->poll();
  EXPECT_FALSE(a->has_pending());
  clock_.advance_ms(1);
  a->poll();
  EXPECT_TRUE(a->has_pending());
}

TEST_F(AggregatorTest, ClockSanityAndNonFiniteAreCountedRejects) {
  WindowOptions w;
  w.max_future_ms = 60'000;
  w.max_past_ms = 3'600'000;
  auto a = make({}, w);
  const std::int64_t now = clock_.now_ms();
  std::vector<wire::Reading> rs = {
      value_reading("d1", "m", now + 60'001, 1),     // future
      value_reading("d1", "m", now + 60'000, 1),     // ok (bound inclusive)
      value_reading("d1", "m", now - 3'600'001, 1),  // past
      value_reading("d1", "m", now, std::numeric_limits<double>::quiet_NaN()),
      value_reading("d1", "m", now, std::numeric_limits<double>::infinity()),
      label_reading("d1", "event", now, "E1"),
  };
  a->add(rs);
  AggregatorStats s = a->stats();
  EXPECT_EQ(s.readings, 6u);
  EXPECT_EQ(s.accepted, 2u);
  EXPECT_EQ(s.rejected[static_cast<int>(RejectReason::kClockFuture)], 1u);
  EXPECT_EQ(s.rejected[static_cast<int>(RejectReason::kClockPast)], 1u);
  EXPECT_EQ(s.rejected[static_cast<int>(RejectReason::kNonFinite)], 2u);
  EXPECT_EQ(reject_reason_name(RejectReason::kClockFuture), "clock_future");
}

TEST_F(AggregatorTest, GroupedRuleWithDistinctAndTopK) {
  RuleSpec line{.name = "vib-line",
                .match = "vib*",
                .group_by = {"site", "line"},
                .quantiles = true,
                .distinct = "device",
                .topk = "device",
                .topk_slots = 64};
  RuleSpec site{.name = "event-site",
                .match = "event",
                .group_by = {"site"},
                .distinct = "device",
                .topk = "label"};
  auto a = make({line, site});
  std::vector<wire::Tag> s1l1 = {{"line", "l1"}, {"site", "s1"}};
  std::vector<wire::Reading> rs;
  for (int i = 0; i < 30; ++i) {
    rs.push_back(value_reading(numbered("d", i % 3), "vibration", kT0 + i * 100, i, s1l1));
  }
  rs.push_back(label_reading("d1", "event", kT0 + 10, "E1", s1l1));
  rs.push_back(label_reading("d2", "event", kT0 + 20, "E1", s1l1));
  rs.push_back(label_reading("d2", "event", kT0 + 30, "E2", s1l1));
  rs.push_back(value_reading("d1", "temperature", kT0 + 30, 20.0, s1l1));  // no rule
  a->add(rs);
  EXPECT_EQ(a->stats().unmatched, 1u);
  a->flush_all();
  auto recs = records(a->take_batches());
  ASSERT_EQ(recs.size(), 2u);
  const wire::WindowRecord* vib = recs[0].key.metric == "vibration" ? &recs[0] : &recs[1];
  const wire::WindowRecord* ev = vib == &recs[0] ? &recs[1] : &recs[0];
  EXPECT_EQ(vib->key.tags, s1l1);
  EXPECT_EQ(vib->distinct_of, "device");
  EXPECT_EQ(vib->topk_of, "device");
  EXPECT_EQ(vib->agg.count(), 30u);
  ASSERT_NE(vib->agg.distinct(), nullptr);
  EXPECT_NEAR(vib->agg.distinct()->estimate(), 3.0, 0.01);
  ASSERT_NE(vib->agg.topk(), nullptr);
  auto top = vib->agg.topk()->top(3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].count, 10u);
  EXPECT_EQ(ev->key.tags, (std::vector<wire::Tag>{{"site", "s1"}}));
  EXPECT_EQ(ev->agg.count(), 3u);
  EXPECT_EQ(ev->topk_of, "label");
  EXPECT_NEAR(ev->agg.distinct()->estimate(), 2.0, 0.01);
  auto codes = ev->agg.topk()->top(2);
  ASSERT_EQ(codes.size(), 2u);
  EXPECT_EQ(codes[0].key, "E1");
  EXPECT_EQ(codes[0].count, 2u);
  EXPECT_EQ(ev->agg.histogram(), nullptr);
}

TEST_F(AggregatorTest, MissingGroupTagAndEmptyGroupBy) {
  auto a = make({RuleSpec{.name = "all", .match = "*"},
                 RuleSpec{.name = "by-site", .match = "*", .group_by = {"site"}}});
  std::vector<wire::Reading> rs = {value_reading("d1", "m", kT0, 1, {{"site", "s1"}}),
                                   value_reading("d2", "m", kT0, 2),
                                   value_reading("d3", "m", kT0, 4, {{"site", "s1"}})};
  a->add(rs);
  a->flush_all();
  auto recs = records(a->take_batches());
  ASSERT_EQ(recs.size(), 3u);
  std::map<std::string, std::uint64_t> counts;
  for (const auto& r : recs) {
    std::string k = r.key.metric;
    for (const auto& t : r.key.tags) k += "," + t.key + "=" + t.value;
    counts[k] += r.agg.count();
  }
  // "all" and the site-less series of "by-site" share a key: each has one record of its own.
  EXPECT_EQ(counts["m"], 4u);
  EXPECT_EQ(counts["m,site=s1"], 2u);
}

TEST_F(AggregatorTest, JournalUptoTracksOpenWindows) {
  auto a = make();
  std::vector<wire::Reading> r1 = {value_reading("d1", "m", kT0 + 1'000, 1)};
  std::vector<wire::Reading> r2 = {value_reading("d2", "m", kT0 + 2'000, 1)};
  a->add(r1, 7);
  a->add(r2, 8);
  EXPECT_EQ(a->min_open_record(), 7u);
  ClosedBatches b = a->take_batches();
  EXPECT_TRUE(b.batches.empty());
  EXPECT_EQ(b.journal_upto, 6u);
  // d1's window closes: record 7 fed only it, so everything up to 7 is settled.
  std::vector<wire::Reading> r3 = {value_reading("d1", "m", kT0 + 16'000, 1)};
  a->add(r3, 9);
  b = a->take_batches();
  ASSERT_EQ(b.batches.size(), 1u);
  EXPECT_EQ(b.journal_upto, 7u);
  a->flush_all();
  b = a->take_batches();
  EXPECT_EQ(b.journal_upto, 9u);
  EXPECT_EQ(a->min_open_record(), 0u);
}

TEST_F(AggregatorTest, BatchesRespectRecordBound) {
  AggregatorOptions o;
  o.gateway_id = "gw1";
  o.clock = &clock_;
  o.max_records_per_batch = 7;
  auto a = std::move(Aggregator::create(o)).value();
  std::vector<wire::Reading> rs;
  for (int d = 0; d < 20; ++d) rs.push_back(value_reading(numbered("d", d), "m", kT0, d));
  a->add(rs);
  a->flush_all();
  EXPECT_EQ(a->stats().pending_records, 20u);
  clock_.set_now_ms(kT0 + 60'000);
  ClosedBatches b = a->take_batches();
  ASSERT_EQ(b.batches.size(), 3u);
  ASSERT_EQ(b.marks.size(), 3u);
  EXPECT_EQ(b.batches[0].records.size(), 7u);
  EXPECT_EQ(b.batches[2].records.size(), 6u);
  for (const wire::WindowBatch& batch : b.batches) EXPECT_EQ(batch.created_ms, kT0 + 60'000);
  EXPECT_EQ(a->stats().batches, 3u);
  EXPECT_EQ(a->stats().pending_records, 0u);
  EXPECT_FALSE(a->has_pending());
}

// What a closed batch held in memory (while the outbox cannot write) costs: its record slots,
// keys and sketches.
TEST_F(AggregatorTest, WindowBatchMemoryBytesCountsRecordsAndSketches) {
  auto a = make();
  std::vector<wire::Reading> rs;
  for (int d = 0; d < 50; ++d) {
    for (int i = 0; i < 20; ++i) rs.push_back(value_reading(numbered("d", d), "m", kT0, d * i));
  }
  a->add(rs);
  a->flush_all();
  ClosedBatches b = a->take_batches();
  ASSERT_EQ(b.batches.size(), 1u);
  wire::WindowBatch& batch = b.batches[0];
  ASSERT_EQ(batch.records.size(), 50u);
  std::size_t sketches = 0;
  for (const wire::WindowRecord& r : batch.records) {
    ASSERT_NE(r.agg.histogram(), nullptr);
    sketches += r.agg.histogram()->memory_bytes();
  }
  const std::size_t all = window_batch_memory_bytes(batch);
  EXPECT_GE(all, 50 * sizeof(wire::WindowRecord) + sketches);
  EXPECT_LE(all, 2 * (batch.records.capacity() * sizeof(wire::WindowRecord) + sketches));
  batch.records.resize(10);
  EXPECT_LT(window_batch_memory_bytes(batch), all);
}

TEST_F(AggregatorTest, SeriesLimitRejectsNewSeries) {
  AggregatorOptions o;
  o.gateway_id = "gw1";
  o.clock = &clock_;
  o.max_series = 2;
  auto a = std::move(Aggregator::create(o)).value();
  std::vector<wire::Reading> rs = {
      value_reading("d1", "m", kT0, 1), value_reading("d2", "m", kT0, 1),
      value_reading("d3", "m", kT0, 1), value_reading("d1", "m", kT0, 1)};
  a->add(rs);
  EXPECT_EQ(a->stats().accepted, 3u);
  EXPECT_EQ(a->stats().rejected[static_cast<int>(RejectReason::kTooManySeries)], 1u);
}

TEST_F(AggregatorTest, IdleSeriesAreRetired) {
  AggregatorOptions o;
  o.gateway_id = "gw1";
  o.clock = &clock_;
  o.series_retention_ms = 60'000;
  auto a = std::move(Aggregator::create(o)).value();
  std::vector<wire::Reading> rs = {value_reading("d1", "m", kT0, 1),
                                   value_reading("d2", "m", kT0, 1)};
  a->add(rs);
  clock_.advance_ms(31'000);
  a->poll();  // idle close
  EXPECT_EQ(a->stats().open_series, 2u);
  clock_.advance_ms(60'000);
  a->poll();
  EXPECT_EQ(a->stats().open_series, 0u);
  EXPECT_EQ(a->stats().series_retired, 2u);
  a->add(rs);  // the index still works after the rebuild
  EXPECT_EQ(a->stats().open_series, 2u);
}

TEST_F(AggregatorTest, ReloadKeepsUnchangedRulesAndFlushesChangedOnes) {
  RuleSpec keep{.name = "keep", .match = "a", .group_by = {"device"}};
  RuleSpec change{.name = "change", .match = "b", .group_by = {"device"}};
  auto a = make({keep, change});
  std::vector<wire::Reading> rs = {value_reading("d1", "a", kT0, 1),
                                   value_reading("d1", "b", kT0, 2)};
  a->add(rs);
  RuleSpec changed = change;
  changed.quantiles = true;
  RuleSpec added{.name = "new", .match = "a"};
  ASSERT_TRUE(a->reload_rules({added, changed, keep}).ok());
  // The changed rule's window was closed by the reload; the kept one is still open.
  auto recs = records(a->take_batches());
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].key.metric, "b");
  a->add(rs);
  a->flush_all();
  recs = records(a->take_batches());
  std::uint64_t a_device = 0, a_all = 0, b_count = 0;
  for (const auto& r : recs) {
    if (r.key.metric == "a" && !r.key.tags.empty()) a_device += r.agg.count();
    if (r.key.metric == "a" && r.key.tags.empty()) a_all += r.agg.count();
    if (r.key.metric == "b") {
      b_count += r.agg.count();
      EXPECT_NE(r.agg.histogram(), nullptr);
    }
  }
  EXPECT_EQ(a_device, 2u);  // one window holding both readings: it survived the reload
  EXPECT_EQ(a_all, 1u);
  EXPECT_EQ(b_count, 1u);
  EXPECT_EQ(a->rules().size(), 3u);

  // A bad rule changes nothing.
  Status bad = a->reload_rules({RuleSpec{.name = "x", .window_ms = 7000}});
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("rule 'x'"), std::string::npos) << bad.message();
  EXPECT_EQ(a->rules().size(), 3u);
}

TEST_F(AggregatorTest, CreateRejectsBadRules) {
  AggregatorOptions o;
  o.clock = &clock_;
  o.rules = {RuleSpec{.name = "a"}, RuleSpec{.name = "a"}};
  auto r = Aggregator::create(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("used twice"), std::string::npos);
  o.rules = {RuleSpec{.name = "w", .window_ms = 500}};
  EXPECT_FALSE(Aggregator::create(o).ok());
}

// where: a spikes rule next to an unconditional one. Readings of one payload alternate between
// taken and refused, and between devices, so the per-rule series cache of consecutive readings
// must not carry a refused reading's key over.
TEST_F(AggregatorTest, WhereConditionFeedsOnlyMatchingReadings) {
  auto a = make({RuleSpec{.name = "all", .match = "vibration", .group_by = {"device"}},
                 RuleSpec{.name = "spikes",
                          .match = "vibration",
                          .group_by = {"device"},
                          .output = "vibration_spikes",
                          .where = "value > 5"}});
  std::vector<wire::Reading> rs;
  const double values[] = {10, 1, 10, 6, 5, 7};
  const char* devices[] = {"d1", "d1", "d1", "d2", "d2", "d1"};
  for (int i = 0; i < 6; ++i) {
    rs.push_back(value_reading(devices[i], "vibration", kT0 + 10 + i, values[i]));
  }
  rs.push_back(value_reading("d1", "temperature", kT0 + 20, 99));  // no rule
  a->add(rs);
  a->flush_all();
  std::map<std::pair<std::string, std::string>, std::pair<std::uint64_t, double>> got;
  for (const wire::WindowRecord& r : records(a->take_batches())) {
    auto& g = got[{r.key.metric, r.key.tags.at(0).value}];
    g.first += r.agg.count();
    g.second += r.agg.sum();
  }
  using Got = decltype(got);
  EXPECT_EQ(got, (Got{{{"vibration", "d1"}, {4, 28}},
                      {{"vibration", "d2"}, {2, 11}},
                      {{"vibration_spikes", "d1"}, {3, 27}},
                      {{"vibration_spikes", "d2"}, {1, 6}}}));
  const AggregatorStats s = a->stats();
  EXPECT_EQ(s.readings, 7u);
  EXPECT_EQ(s.accepted, 6u);
  EXPECT_EQ(s.unmatched, 1u);
  using Counts = std::vector<std::pair<std::string, std::uint64_t>>;
  EXPECT_EQ(s.where_skipped, (Counts{{"spikes", 2}}));
}

TEST_F(AggregatorTest, ReadingEveryConditionRefusesIsUnmatched) {
  auto a = make({RuleSpec{.name = "errors",
                          .match = "event",
                          .group_by = {"site"},
                          .where = "label == \"E017\" and site =~ \"s[12]\""}});
  std::vector<wire::Reading> rs = {label_reading("d1", "event", kT0 + 1, "E017", {{"site", "s1"}}),
                                   label_reading("d1", "event", kT0 + 2, "E018", {{"site", "s1"}}),
                                   label_reading("d2", "event", kT0 + 3, "E017", {{"site", "s3"}}),
                                   label_reading("d3", "event", kT0 + 4, "E017", {{"site", "s2"}})};
  a->add(rs);
  a->flush_all();
  std::map<std::string, std::uint64_t> counts;
  for (const wire::WindowRecord& r : records(a->take_batches())) {
    counts[r.key.tags.at(0).value] += r.agg.count();
  }
  EXPECT_EQ(counts, (std::map<std::string, std::uint64_t>{{"s1", 1}, {"s2", 1}}));
  const AggregatorStats s = a->stats();
  EXPECT_EQ(s.accepted, 2u);
  EXPECT_EQ(s.unmatched, 2u);
  EXPECT_EQ(s.rejected[static_cast<std::size_t>(RejectReason::kTooManySeries)], 0u);
}

TEST_F(AggregatorTest, WhereSkippedCountsCarryAcrossReloadsByName) {
  const RuleSpec spikes{.name = "spikes", .match = "v", .where = "value > 5"};
  auto a = make({spikes});
  std::vector<wire::Reading> low = {value_reading("d1", "v", kT0 + 1, 1),
                                    value_reading("d1", "v", kT0 + 2, 2)};
  a->add(low);
  RuleSpec stricter = spikes;
  stricter.where = "value > 50";  // changed: a new compiled rule of the same name
  ASSERT_TRUE(a->reload_rules({stricter, RuleSpec{.name = "other", .where = "value < 0"}}).ok());
  a->add(low);
  using Counts = std::vector<std::pair<std::string, std::uint64_t>>;
  EXPECT_EQ(a->stats().where_skipped, (Counts{{"spikes", 4}, {"other", 2}}));
  ASSERT_TRUE(a->reload_rules({RuleSpec{.name = "plain"}}).ok());
  EXPECT_EQ(a->stats().where_skipped, (Counts{{"other", 2}, {"spikes", 4}}));
  // A bad condition is refused with its rule and column; the rules stay.
  Status bad = a->reload_rules({RuleSpec{.name = "spikes", .where = "value >"}});
  EXPECT_EQ(bad.message(), "rule 'spikes' where: column 8: expected a value after '>'");
  EXPECT_EQ(a->rules().at(0).name, "plain");
}

TEST(RuleTest, GlobMatching) {
  EXPECT_TRUE(metric_matches("*", "anything"));
  EXPECT_TRUE(metric_matches("temp*", "temperature"));
  EXPECT_FALSE(metric_matches("temp*", "humidity"));
  EXPECT_TRUE(metric_matches("vib?ation", "vibration"));
  EXPECT_TRUE(metric_matches("[ht]*", "humidity"));
}

}  // namespace
}  // namespace edgesketch::agent
