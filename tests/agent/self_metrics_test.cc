// The self source: readings named edgesketch_agent_<name>{gateway=...}, gauges as sampled and
// counters as increases, one sample per interval slot, and the built-in rule closing them into
// count/sum/min/max records of their own aggregator (the one the daemon builds from the config).
#include "window/self_metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "config/agent_config.h"
#include "edgesketch/common/clock.h"
#include "window/aggregator.h"

namespace edgesketch::agent {
namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;  // a multiple of 10 s

std::map<std::string, double> by_metric(std::span<const wire::Reading> readings) {
  std::map<std::string, double> out;
  for (const wire::Reading& r : readings) out[r.metric] = r.value;
  return out;
}

TEST(SelfMetricsTest, ReadingsCarryNameGatewayTagAndTime) {
  SelfMetrics self("gw-7", 10'000);
  SelfSample s;
  s.outbox_rows = 12;
  s.outbox_oldest_age_seconds = 31.5;
  const auto readings = self.sample(s, kT0 + 3);
  ASSERT_EQ(readings.size(), self_metric_infos().size());
  for (std::size_t i = 0; i < readings.size(); ++i) {
    const wire::Reading& r = readings[i];
    EXPECT_EQ(r.metric, "edgesketch_agent_" + std::string(self_metric_infos()[i].name));
    EXPECT_EQ(r.device_id, "gw-7");
    EXPECT_EQ(r.tags, (std::vector<wire::Tag>{{"gateway", "gw-7"}}));
    EXPECT_EQ(r.ts_ms, kT0 + 3);
    EXPECT_FALSE(r.is_label);
  }
  const auto v = by_metric(readings);
  EXPECT_EQ(v.at("edgesketch_agent_outbox_rows"), 12);
  EXPECT_EQ(v.at("edgesketch_agent_outbox_oldest_age_seconds"), 31.5);
  for (const char* name :
       {"outbox_bytes", "unacked_batches", "open_windows", "open_series", "uplink_state",
        "readings_accepted", "readings_dropped", "readings_rejected", "payloads_bad",
        "windows_closed", "outbox_dropped_readings"}) {
    EXPECT_EQ(v.count(std::string("edgesketch_agent_") + name), 1u) << name;
  }
}

TEST(SelfMetricsTest, CountersAreIncreasesGaugesAreValues) {
  SelfMetrics self("gw", 10'000);
  SelfSample s;
  s.readings_accepted = 1'000;  // since the process started
  s.windows_closed = 7;
  s.open_windows = 40;
  auto v = by_metric(self.sample(s, kT0));
  EXPECT_EQ(v.at("edgesketch_agent_readings_accepted"), 1'000);
  EXPECT_EQ(v.at("edgesketch_agent_windows_closed"), 7);
  EXPECT_EQ(v.at("edgesketch_agent_open_windows"), 40);
  s.readings_accepted = 1'250;
  s.readings_dropped = 3;
  s.open_windows = 40;
  v = by_metric(self.sample(s, kT0 + 10'000));
  EXPECT_EQ(v.at("edgesketch_agent_readings_accepted"), 250);
  EXPECT_EQ(v.at("edgesketch_agent_readings_dropped"), 3);
  EXPECT_EQ(v.at("edgesketch_agent_windows_closed"), 0);
  EXPECT_EQ(v.at("edgesketch_agent_open_windows"), 40);  // a gauge, not a difference
  s.readings_accepted = 5;  // a counter that went down was reset: counted from zero
  v = by_metric(self.sample(s, kT0 + 20'000));
  EXPECT_EQ(v.at("edgesketch_agent_readings_accepted"), 5);
}

TEST(SelfMetricsTest, OneSampleDuePerIntervalSlot) {
  SelfMetrics self("gw", 10'000);
  EXPECT_TRUE(self.due(kT0 + 9'999));
  (void)self.sample({}, kT0 + 9'999);
  EXPECT_FALSE(self.due(kT0 + 9'999));
  EXPECT_TRUE(self.due(kT0 + 10'000));
  (void)self.sample({}, kT0 + 10'050);
  EXPECT_FALSE(self.due(kT0 + 19'999));
  EXPECT_TRUE(self.due(kT0 + 20'000));
  EXPECT_TRUE(self.due(kT0 - 60'000));  // a clock stepped back: a new slot too
}

TEST(SelfMetricsTest, WindowIsTheIntervalRoundedUpToAValidWindow) {
  EXPECT_EQ(self_metrics_window_ms(10'000), 10'000u);
  EXPECT_EQ(self_metrics_window_ms(1'000), 1'000u);
  EXPECT_EQ(self_metrics_window_ms(1'500), 2'000u);
  EXPECT_EQ(self_metrics_window_ms(7'000), 10'000u);
  EXPECT_EQ(self_metrics_window_ms(45'000), 60'000u);
  EXPECT_EQ(self_metrics_window_ms(3'600'000), 3'600'000u);
  for (std::int64_t i = 1'000; i <= 3'600'000; i += 997) {
    const std::uint32_t w = self_metrics_window_ms(i);
    ASSERT_GE(w, i);
    // Lines up with the collector's tiers: divides 10 s or is a multiple of it dividing 1 h.
    ASSERT_TRUE(10'000 % w == 0 || (w % 10'000 == 0 && 3'600'000 % w == 0)) << i;
    ASSERT_TRUE(validate_rule(self_metrics_rule(i), wire::Limits{}).ok()) << i;
  }
  const RuleSpec rule = self_metrics_rule(10'000);
  EXPECT_EQ(rule.name, "self_metrics");
  EXPECT_EQ(rule.group_by, (std::vector<std::string>{"gateway"}));
  EXPECT_FALSE(rule.quantiles);
  EXPECT_TRUE(rule.distinct.empty());
  EXPECT_TRUE(rule.topk.empty());
  EXPECT_TRUE(rule.output.empty());
}

// The aggregator the daemon builds for the self source: one record per metric and window, keyed
// metric{gateway=...}, count/sum/min/max only; a window closes at the first sample past its end.
TEST(SelfMetricsTest, BuiltInRuleClosesOneRecordPerMetricAndWindow) {
  auto config = parse_agent_config(R"(
[agent]
gateway_id = "gw-9"
tenant = "acme"
[[input]]
type = "mqtt"
[[rule]]
name = "everything"
match = "*"
[uplink]
broker = "tcp://collector:1883"
)",
                                   "agent.toml");
  ASSERT_TRUE(config.ok()) << config.status().to_string();
  FakeClock clock(kT0 + 5);
  AggregatorOptions o = self_aggregator_options(*config);
  o.clock = &clock;
  ASSERT_EQ(o.rules.size(), 1u);
  EXPECT_EQ(o.rules[0], self_metrics_rule(10'000));
  auto agg = Aggregator::create(std::move(o));
  ASSERT_TRUE(agg.ok()) << agg.status().to_string();
  SelfMetrics self("gw-9", 10'000);
  SelfSample s;
  s.outbox_rows = 3;
  s.readings_accepted = 100;
  (*agg)->add(self.sample(s, clock.now_ms()));
  (*agg)->poll();
  EXPECT_FALSE((*agg)->has_pending());  // the window [kT0, kT0 + 10 s) is still open
  clock.set_now_ms(kT0 + 10'004);
  s.outbox_rows = 9;
  s.readings_accepted = 160;
  (*agg)->add(self.sample(s, clock.now_ms()));
  ASSERT_TRUE((*agg)->has_pending());
  ClosedBatches closed = (*agg)->take_batches();
  EXPECT_EQ(closed.journal_upto, 0u);  // nothing journaled
  ASSERT_EQ(closed.batches.size(), 1u);
  const wire::WindowBatch& b = closed.batches[0];
  EXPECT_EQ(b.gateway_id, "gw-9");
  EXPECT_EQ(b.tenant, "acme");
  ASSERT_EQ(b.records.size(), self_metric_infos().size());
  std::map<std::string, const wire::WindowRecord*> rec;
  for (const wire::WindowRecord& r : b.records) {
    EXPECT_EQ(r.key.tags, (std::vector<wire::Tag>{{"gateway", "gw-9"}})) << r.key.metric;
    EXPECT_EQ(r.window_start_ms, kT0);
    EXPECT_EQ(r.window_ms, 10'000u);
    EXPECT_FALSE(r.delta);
    EXPECT_EQ(r.agg.count(), 1u);
    EXPECT_EQ(r.agg.histogram(), nullptr);
    EXPECT_TRUE(r.distinct_of.empty());
    EXPECT_TRUE(r.topk_of.empty());
    rec[r.key.metric] = &r;
  }
  EXPECT_EQ(rec.at("edgesketch_agent_outbox_rows")->agg.max(), 3);
  EXPECT_EQ(rec.at("edgesketch_agent_readings_accepted")->agg.sum(), 100);
  (*agg)->flush_all();
  closed = (*agg)->take_batches();
  ASSERT_EQ(closed.batches.size(), 1u);
  for (const wire::WindowRecord& r : closed.batches[0].records) {
    EXPECT_EQ(r.window_start_ms, kT0 + 10'000);
    if (r.key.metric == "edgesketch_agent_outbox_rows") {
      EXPECT_EQ(r.agg.max(), 9);
    }
    if (r.key.metric == "edgesketch_agent_readings_accepted") {
      EXPECT_EQ(r.agg.sum(), 60);
    }
  }
  // The device aggregator of the same config (rule match = "*") is a different instance: the
  // self source never feeds it, so no user rule sees a self reading.
  EXPECT_EQ(aggregator_options(*config).rules.size(), 1u);
  EXPECT_EQ(aggregator_options(*config).rules[0].name, "everything");
}

}  // namespace
}  // namespace edgesketch::agent
