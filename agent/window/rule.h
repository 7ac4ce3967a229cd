// Aggregation rules: which readings feed which aggregate series, like a materialized view
// (DESIGN.md, "Data model"). The config loader fills RuleSpecs; the aggregator compiles them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "edgesketch/common/status.h"
#include "edgesketch/wire/limits.h"

namespace edgesketch::agent {

// What a distinct count or a top-K ranks: this word instead of a tag key means the reading's
// categorical label. The tag key "device" means the reading's device id.
inline constexpr std::string_view kLabelSubject = "label";
inline constexpr std::string_view kDeviceTag = "device";

struct RuleSpec {
  // Unique among the rules; names the rule in logs and errors, and seeds its series hashes.
  std::string name;
  // fnmatch(3) glob on the metric name ("vibration", "temp*", "*").
  std::string match = "*";
  // Tag keys kept in the series key ("device" = the device id). Empty: one series per metric.
  // Order and repeats do not matter (the key is sorted); a reading lacking a key simply has no
  // such tag in its series key.
  std::vector<std::string> group_by;
  // Tumbling event-time window, Unix-epoch aligned; must pass the wire limits (>= 1 s, divides
  // 24 h).
  std::uint32_t window_ms = 10'000;
  // Keep a quantile histogram of the numeric values.
  bool quantiles = false;
  // Count distinct values of this tag key, or of the label ("label"); "" = no distinct count.
  std::string distinct;
  // Rank the values of this tag key, or the labels ("label"); "" = no top-K.
  std::string topk;
  // Counters of the top-K summary (SpaceSaving), 1..65536.
  std::uint32_t topk_slots = 1024;
  // The metric name of the rule's series in the records it produces; "" = the reading's metric.
  // Lets a grouped rule (vibration per line) publish under its own name ("vibration_by_line"),
  // so a query summing the per-device series never counts the grouped ones too.
  std::string output;
  // A condition (process/condition.h) a reading must satisfy to feed the rule, e.g.
  // "value > 5"; "" = every reading of a matching metric. Lets a rule count spikes per device
  // (match = "vibration", where = "value > 5", output = "vibration_spikes").
  std::string where;

  friend bool operator==(const RuleSpec&, const RuleSpec&) = default;
};

// The rule used when the config has none: per device, per metric, count/sum/min/max and
// quantiles.
RuleSpec default_rule();

// OK, or kInvalidArgument naming the rule and the field ("rule 'vib': window_ms 1500 does not
// divide 86400000", "rule 'spikes' where: column 9: expected a value after '>'").
Status validate_rule(const RuleSpec& rule, const wire::Limits& limits);

// validate_rule for each, plus unique names.
Status validate_rules(const std::vector<RuleSpec>& rules, const wire::Limits& limits);

// fnmatch(3) without flags: '*', '?' and bracket expressions.
bool metric_matches(std::string_view glob, std::string_view metric);

}  // namespace edgesketch::agent
