// The agent's own health as readings (the built-in "self" source, docs/agent.md "Self-metrics as
// series"): every interval the daemon samples its gauges and counters into a SelfSample, and
// SelfMetrics turns it into readings `edgesketch_agent_<name>{gateway=<gateway_id>}` that a
// separate aggregator with the one built-in rule (self_metrics_rule()) closes into ordinary
// window records, shipped through the outbox like any other series.
//
// Separation from the device pipeline: the self readings go to an Aggregator of their own, never
// to the one holding the [[rule]]s, so no user rule ever sees them (match = "*" included) and the
// built-in rule never sees a device reading (a device metric that happens to be named
// edgesketch_agent_* is an ordinary device metric). They are not journaled (record number 0).
//
// Thread safety: SelfMetrics is owned by one thread (the agent's aggregator thread); the free
// functions are pure.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "edgesketch/wire/types.h"
#include "window/rule.h"

namespace edgesketch::agent {

// Every self series is named kSelfMetricPrefix + <name> and carries the tag kGatewayTag.
inline constexpr std::string_view kSelfMetricPrefix = "edgesketch_agent_";
inline constexpr std::string_view kGatewayTag = "gateway";
inline constexpr std::string_view kSelfRuleName = "self_metrics";

// What the daemon reads from its parts at one sample. Gauges are values at the sample; counters
// are totals since the process started (they never decrease).
struct SelfSample {
  // Gauges.
  double outbox_rows = 0;                // batches in the outbox, not yet acked
  double outbox_bytes = 0;               // their payload bytes
  double outbox_oldest_age_seconds = 0;  // age of the oldest one; 0 when empty
  double unacked_batches = 0;            // handed to the uplink at least once, not yet acked
  double open_windows = 0;               // the device aggregator's open windows
  double open_series = 0;                // the series it knows
  double uplink_state = 0;               // 0 disconnected, 1 MQTT, 2 HTTP fallback
  // Counters.
  std::uint64_t readings_accepted = 0;        // passed clock sanity and matched a rule
  std::uint64_t readings_dropped = 0;         // ring_full + ring_timeout + journal_error
  std::uint64_t readings_rejected = 0;        // clock_future, clock_past, non_finite, ...
  std::uint64_t payloads_bad = 0;             // payloads the parsers rejected
  std::uint64_t windows_closed = 0;           // device window records produced
  std::uint64_t outbox_dropped_readings = 0;  // readings the outbox dropped (full, rejected)
};

struct SelfMetricInfo {
  std::string_view name;  // without kSelfMetricPrefix
  bool counter;           // true: the reading is the increase since the previous sample
};

// The metrics of a sample, in the order SelfMetrics::sample() emits them.
std::span<const SelfMetricInfo> self_metric_infos();

// The window of the built-in rule: `interval_ms` (1 s .. 1 h) rounded up to the next of 1 s, 2 s,
// 5 s, 10 s, 20 s, 30 s, 1 m, 2 m, 3 m, 5 m, 10 m, 15 m, 20 m, 30 m, 1 h: windows that divide
// 24 h and line up with the collector's 10 s / 1 min / 1 h tiers (7 s -> 10 s, 45 s -> 1 m).
std::uint32_t self_metrics_window_ms(std::int64_t interval_ms);

// The built-in rule: name "self_metrics", match "edgesketch_agent_*", group_by {"gateway"},
// window self_metrics_window_ms(interval_ms), count/sum/min/max, no sketches.
RuleSpec self_metrics_rule(std::int64_t interval_ms);

class SelfMetrics {
 public:
  // interval_ms in [1 s, 1 h] (the config loader checks it).
  SelfMetrics(std::string gateway_id, std::int64_t interval_ms);

  // True when the agent's clock `now_ms` is in an interval slot (now_ms / interval_ms) that has
  // no sample yet: so one sample lands in each interval, just after its start.
  bool due(std::int64_t now_ms) const { return now_ms / interval_ms_ != last_slot_; }

  // The readings of one sample taken at `now_ms`: one per metric of self_metric_infos(), device
  // id and tag gateway = the gateway id; a gauge reads its value, a counter its increase since the
  // previous sample (since the process started for the first one). The span is valid until the
  // next call.
  std::span<const wire::Reading> sample(const SelfSample& s, std::int64_t now_ms);

  std::int64_t interval_ms() const { return interval_ms_; }

 private:
  std::int64_t interval_ms_;
  std::int64_t last_slot_ = INT64_MIN;
  SelfSample previous_;
  std::vector<wire::Reading> readings_;
};

}  // namespace edgesketch::agent
